;
; BIND data file for example.com (the layout of Debian's db.local and of most tutorials)
;
$TTL    604800
@       IN      SOA     ns1.example.com. admin.example.com. (
                              3         ; Serial
                         604800         ; Refresh
                          86400         ; Retry
                        2419200         ; Expire
                         604800 )       ; Negative Cache TTL
;
@       IN      NS      ns1.example.com.
@       IN      NS      ns2.example.com.
@       IN      A       192.0.2.10
@       IN      AAAA    2001:db8::10
@       IN      MX      10 mail.example.com.
@       IN      MX      20 mail2
ns1     IN      A       192.0.2.1
ns2     IN      A       192.0.2.2
www     IN      CNAME   @
mail    IN      A       192.0.2.25
mail2   IN      A       192.0.2.26
ftp     IN      CNAME   www
intranet 3600   IN      A       10.0.0.5
