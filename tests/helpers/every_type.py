"""A zone holding every record type fakens loads, for the fast encoder's and express path's tests."""

EVERY_TYPE_ZONE = r"""
$ORIGIN wire.test.
$TTL 300
@        SOA   ns1 hostmaster.wire.test. 2024010101 3600 600 86400 300
@        NS    ns1
@        NS    ns2.elsewhere.test.
ns1      A     192.0.2.1
ns1      AAAA  2001:db8::1
www      CNAME web.wire.test.
web      A     192.0.2.80
web      A     192.0.2.81
mail     MX    10 mx1.wire.test.
mail     MX    20 MX2.Other.test.
mx1      A     192.0.2.25
mx1      AAAA  2001:db8::25
mail2    MX    5 ns1.wire.test.
mail2    MX    10 MX1.wire.test.
mail2    MX    20 ns1.ds.wire.test.
mail2    MX    30 sub.wire.test.
mail3    MX    0 ns1.wire.test.
ptr      PTR   Host.wire.test.
txt      TXT   "v=spf1 -all" "second \"quoted\"" "\065\066"
txt      SPF   "v=spf1 -all"
hinfo    HINFO "PC" "Linux"
srv      SRV   0 5 5060 sip.wire.test.
sip      A     192.0.2.60
srv2     SRV   0 0 53 ns1.wire.test.
srv2     SRV   1 0 53 ns2.elsewhere.test.
dname    DNAME target.wire.test.
naptr    NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:info@wire.test!" .
rp       RP    hostmaster.wire.test. txt.wire.test.
afsdb    AFSDB 1 afs.wire.test.
kx       KX    10 kdc.wire.test.
rt       RT    10 relay.wire.test.
px       PX    10 map822.wire.test. mapx400.wire.test.
nsapptr  NSAP-PTR host.wire.test.
loc      LOC   52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
ds       NS    ns1.ds
ns1.ds   A     192.0.2.9
ds       DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
key      DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
sig      RRSIG A 13 3 300 20300101000000 20200101000000 12345 wire.test. (
         mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ== )
nsec     NSEC  next.wire.test. A MX RRSIG NSEC TYPE1234
nsec3    NSEC3 1 1 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG
n3param  NSEC3PARAM 1 0 0 -
tlsa     TLSA  3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
sshfp    SSHFP 4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
https    HTTPS 1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1
svcb     SVCB  1 svc.wire.test. port=53
caa      CAA   128 issue "ca.test; account=1"
uri      URI   10 1 "https://wire.test/"
cert     CERT  PGP 0 0 dGVzdA==
cds      CDS   0 0 0 00
wks      WKS   192.0.2.1 6 ( 21 23 25 )
x25      X25   "311061700956"
isdn     ISDN  "150862028003217" "004"
gpos     GPOS  "-32.6882" "116.8652" "10.0"
apl      APL   1:192.0.2.0/24 !1:192.0.2.128/28
eui48    EUI48 00-00-5e-00-53-2a
eui64    EUI64 00-00-5e-ef-10-00-00-2a
dhcid    DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=
openpgp  OPENPGPKEY dGVzdA==
csync    CSYNC 66 3 A NS AAAA
zonemd   ZONEMD 2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE
amt      AMTRELAY 10 0 3 amtrelays.wire.test.
ipseckey IPSECKEY 10 3 2 gateway.wire.test. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==
generic  TYPE65534 \# 3 010203
*.wild   A     192.0.2.42
*.wild   MX    10 mx1.wire.test.
Upper    A     192.0.2.5
"""
