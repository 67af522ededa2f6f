"""Warnings of dependencies that say nothing about what fakens or its user does, silenced at
the import of fakens (``import fakens`` registers the filters; nothing else is changed).

cryptography 46 and later deprecate DSA, and dnspython's DSA module, imported with
``dns.dnssec`` (fakens signs zones and forges DNSSEC faults with it), touches the deprecated
classes as it is imported: four lines on stderr for every command and test process. Only that
module's warning is silenced: DSA used anywhere else still warns::

    import fakens, dns.dnssec      # quiet
    from cryptography.hazmat.primitives.asymmetric import dsa
    dsa.DSAPublicKey               # CryptographyDeprecationWarning, as without fakens
"""

import warnings

warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"dns\.dnssecalgs\.dsa")
