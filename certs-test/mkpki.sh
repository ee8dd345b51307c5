#!/usr/bin/env bash
# TEST ONLY. Regenerates the vanthu test PKI in this folder with the OpenSSL CLI.
#
# Every key made here is PUBLIC (committed to git) and must never be trusted outside tests.
# The chain is shaped like the Vietnamese government's: a root, an intermediate in the role of the
# specialised CA (CA chuyên dùng), leaders' personal certificates (RSA-2048 and ECDSA P-256),
# organisation (seal) certificates, a TSA (critical EKU timeStamping), an OCSP responder, and
# certificates for negative tests (expired, revoked, unknown critical extension, wrong key usage,
# untrusted root). Validity dates are fixed and long (to 2095-2099), so tests never depend on the
# clock; the expired signer ended in 2021.
#
# Usage: bash certs-test/mkpki.sh        (overwrites the committed files; commit the result)
#
# The revocation services baked into the certificates (CRL distribution points, OCSP and
# caIssuers URLs) live on fixed loopback ports that `vanthu pki serve-test` listens on:
#   http://127.0.0.1:18880/  CRLs and CA certificates     http://127.0.0.1:18881/  OCSP
#   http://127.0.0.1:18882/  RFC 3161 time-stamping
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
OUT=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

PASS=123456                 # PIN of every encrypted key and PKCS#12 file (test only)
CRL_BASE=http://127.0.0.1:18880
OCSP_URL=http://127.0.0.1:18881/
BANNER="TEST ONLY - vanthu test PKI (certs-test/). This file is public; never trust it outside tests."
OU="TEST ONLY - DO NOT TRUST"

rm -f ./*.pem ./*.der ./*.p12 ./*.crl ./*.ocsp ./*.cer
rm -rf ca
mkdir -p ca

# ------------------------------------------------------------------ OpenSSL configuration
cat >"$WORK/ca.cnf" <<EOF
[ ca ]
default_ca = sub_ca

[ root_ca ]
dir = $OUT/ca
database = \$dir/root-ca.index
serial = \$dir/root-ca.serial
crlnumber = \$dir/root-ca.crlnumber
new_certs_dir = $WORK
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
preserve = yes
email_in_dn = no
default_crl_days = 36500
crl_extensions = crl_ext

[ sub_ca ]
dir = $OUT/ca
database = \$dir/sub-ca.index
serial = \$dir/sub-ca.serial
crlnumber = \$dir/sub-ca.crlnumber
new_certs_dir = $WORK
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
preserve = yes
email_in_dn = no
default_crl_days = 36500
crl_extensions = crl_ext

[ untrusted_ca ]
dir = $OUT/ca
database = \$dir/untrusted-root.index
serial = \$dir/untrusted-root.serial
crlnumber = \$dir/untrusted-root.crlnumber
new_certs_dir = $WORK
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
preserve = yes
email_in_dn = no
default_crl_days = 36500

[ policy_any ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
title = optional
commonName = supplied
UID = optional

[ req ]
distinguished_name = dn
string_mask = utf8only
utf8 = yes
prompt = no
[ dn ]
CN = placeholder

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_sub ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$CRL_BASE/root-ca.crl
authorityInfoAccess = caIssuers;URI:$CRL_BASE/root-ca.cer

# A signer with revocation pointers (CRL and OCSP), as the government CA issues them.
[ v3_signer ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, clientAuth, 1.3.6.1.5.5.7.3.36
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$CRL_BASE/sub-ca.crl
authorityInfoAccess = OCSP;URI:$OCSP_URL, caIssuers;URI:$CRL_BASE/sub-ca.cer

# A signer without revocation pointers: poppler's pdfsig reports an unreachable OCSP URL as a
# certificate problem, so validator tests that run without the test services use this one.
[ v3_signer_noaia ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, clientAuth, 1.3.6.1.5.5.7.3.36
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$CRL_BASE/sub-ca.crl

[ v3_ocsp ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
# id-pkix-ocsp-nocheck: relying parties do not check the responder's own revocation.
1.3.6.1.5.5.7.48.1.5 = ASN1:NULL

[ v3_unknown_critical ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
# A private extension no validator knows, marked critical: must be refused.
1.3.6.1.4.1.55555.1.1 = critical, ASN1:UTF8String:vanthu test: unknown critical extension

[ v3_wrong_ku ]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment, dataEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

for db in root-ca sub-ca untrusted-root; do
    : >"ca/$db.index"
    echo "unique_subject = no" >"ca/$db.index.attr"
    echo 1000 >"ca/$db.crlnumber"
done
# Serial numbers: fixed starting points so every certificate's serial is distinct across CAs.
echo 1001 >ca/root-ca.serial
echo 2001 >ca/sub-ca.serial
echo 9001 >ca/untrusted-root.serial

export OPENSSL_CONF="$WORK/ca.cnf"

# ------------------------------------------------------------------ helpers
banner_pem() { # FILE: prefix a PEM file with the test-only banner (text before BEGIN is allowed, RFC 7468)
    local f=$1
    { echo "$BANNER"; cat "$f"; } >"$f.tmp" && mv "$f.tmp" "$f"
}

new_key() { # NAME rsa|ec: PKCS#8 PEM + DER, unencrypted
    local name=$1 kind=$2
    if [ "$kind" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key.pem" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
            -out "$name.key.pem" 2>/dev/null
    fi
    openssl pkcs8 -topk8 -nocrypt -in "$name.key.pem" -outform DER -out "$name.key.der"
}

issue() { # NAME CA_SECTION EXT_SECTION START END SUBJECT [ISSUER_NAME]
    local name=$1 ca=$2 ext=$3 start=$4 end=$5 subject=$6 issuer=${7:-}
    openssl req -new -utf8 -key "$name.key.pem" -subj "$subject" -out "$WORK/$name.csr"
    if [ -z "$issuer" ]; then
        openssl ca -batch -utf8 -name "$ca" -selfsign -keyfile "$name.key.pem" -in "$WORK/$name.csr" \
            -startdate "$start" -enddate "$end" -extensions "$ext" -notext -out "$name.pem" 2>/dev/null
    else
        openssl ca -batch -utf8 -name "$ca" -cert "$issuer.pem" -keyfile "$issuer.key.pem" -in "$WORK/$name.csr" \
            -startdate "$start" -enddate "$end" -extensions "$ext" -notext -out "$name.pem" 2>/dev/null
    fi
    openssl x509 -in "$name.pem" -outform DER -out "$name.der"
}

# ------------------------------------------------------------------ the chain
FROM=20200101000000Z
ROOT_TO=20991231235959Z
SUB_TO=20971231235959Z
LEAF_TO=20951231235959Z

new_key root-ca rsa
issue root-ca root_ca v3_root $FROM $ROOT_TO \
    "/C=VN/O=vanthu test PKI/OU=$OU/CN=vanthu Test Root CA (TEST ONLY)"
cp root-ca.der root-ca.cer

new_key sub-ca rsa
issue sub-ca root_ca v3_sub $FROM $SUB_TO \
    "/C=VN/O=vanthu test PKI/OU=$OU/CN=CA chuyên dùng thử nghiệm (TEST ONLY)" root-ca
cp sub-ca.der sub-ca.cer

# Leaders' personal certificates (chữ ký số cá nhân).
new_key leader-rsa rsa
issue leader-rsa sub_ca v3_signer 20240101000000Z $LEAF_TO \
    "/C=VN/L=Hà Nội/O=Bộ Tư pháp (TEST ONLY)/OU=$OU/title=Thứ trưởng/CN=Nguyễn Văn An (TEST ONLY)" sub-ca
new_key leader-ec ec
issue leader-ec sub_ca v3_signer 20240101000000Z $LEAF_TO \
    "/C=VN/L=Hà Nội/O=Cục Quản lý thi hành án dân sự (TEST ONLY)/OU=$OU/title=Cục trưởng/CN=Trần Thị Bình (TEST ONLY)" sub-ca
new_key leader-rsa-noaia rsa
issue leader-rsa-noaia sub_ca v3_signer_noaia 20240101000000Z $LEAF_TO \
    "/C=VN/L=Hà Nội/O=Bộ Tư pháp (TEST ONLY)/OU=$OU/title=Vụ trưởng/CN=Lê Văn Cường (TEST ONLY)" sub-ca

# Organisation certificates (chữ ký số của cơ quan, tổ chức: the "seal").
new_key seal-rsa rsa
issue seal-rsa sub_ca v3_signer 20240101000000Z $LEAF_TO \
    "/C=VN/L=Hà Nội/OU=$OU/O=Bộ Tư pháp (TEST ONLY)/CN=Bộ Tư pháp (TEST ONLY)" sub-ca
new_key seal-ec ec
issue seal-ec sub_ca v3_signer 20240101000000Z $LEAF_TO \
    "/C=VN/L=Hà Nội/OU=$OU/O=Cục Quản lý thi hành án dân sự (TEST ONLY)/CN=Cục Quản lý THADS (TEST ONLY)" sub-ca

# Services.
new_key tsa rsa
issue tsa sub_ca v3_tsa 20240101000000Z $LEAF_TO \
    "/C=VN/O=vanthu test PKI/OU=$OU/CN=vanthu Test TSA (TEST ONLY)" sub-ca
new_key ocsp rsa
issue ocsp sub_ca v3_ocsp 20240101000000Z $LEAF_TO \
    "/C=VN/O=vanthu test PKI/OU=$OU/CN=vanthu Test OCSP Responder (TEST ONLY)" sub-ca

# Negative cases.
new_key expired rsa
issue expired sub_ca v3_signer_noaia 20200101000000Z 20210101000000Z \
    "/C=VN/O=Bộ Tư pháp (TEST ONLY)/OU=$OU/CN=Phạm Văn Hết Hạn - expired (TEST ONLY)" sub-ca
new_key revoked rsa
issue revoked sub_ca v3_signer 20240101000000Z $LEAF_TO \
    "/C=VN/O=Bộ Tư pháp (TEST ONLY)/OU=$OU/CN=Đỗ Văn Thu Hồi - revoked (TEST ONLY)" sub-ca
new_key unknown-critical rsa
issue unknown-critical sub_ca v3_unknown_critical 20240101000000Z $LEAF_TO \
    "/C=VN/O=Bộ Tư pháp (TEST ONLY)/OU=$OU/CN=Unknown critical extension (TEST ONLY)" sub-ca
new_key wrong-ku rsa
issue wrong-ku sub_ca v3_wrong_ku 20240101000000Z $LEAF_TO \
    "/C=VN/O=Bộ Tư pháp (TEST ONLY)/OU=$OU/CN=Wrong key usage (TEST ONLY)" sub-ca

# A chain nobody trusts: a root of its own and a leader under it.
new_key untrusted-root rsa
issue untrusted-root untrusted_ca v3_root $FROM $ROOT_TO \
    "/C=VN/O=Untrusted test PKI/OU=$OU/CN=Untrusted Test Root (TEST ONLY)"
new_key untrusted-leader rsa
issue untrusted-leader untrusted_ca v3_signer_noaia 20240101000000Z $LEAF_TO \
    "/C=VN/O=Untrusted test PKI/OU=$OU/CN=Nguyễn Văn Giả (TEST ONLY)" untrusted-root

# ------------------------------------------------------------------ revocation data
openssl ca -batch -name sub_ca -cert sub-ca.pem -keyfile sub-ca.key.pem -revoke revoked.pem \
    -crl_reason keyCompromise 2>/dev/null
# Fixed revocation date (1 January 2025) so the CRL is the same whenever it is regenerated.
sed -i -E 's/^R(\t[0-9]+Z\t)[0-9]+Z,/R\1250101000000Z,/' ca/sub-ca.index
openssl ca -batch -name root_ca -cert root-ca.pem -keyfile root-ca.key.pem -gencrl -crl_lastupdate 20250601000000Z -crl_nextupdate 20991231235959Z -out root-ca.crl.pem 2>/dev/null
openssl ca -batch -name sub_ca -cert sub-ca.pem -keyfile sub-ca.key.pem -gencrl -crl_lastupdate 20250601000000Z -crl_nextupdate 20991231235959Z -out sub-ca.crl.pem 2>/dev/null
openssl crl -in root-ca.crl.pem -outform DER -out root-ca.crl
openssl crl -in sub-ca.crl.pem -outform DER -out sub-ca.crl

# Pre-made OCSP responses (valid for 100 years) for tests that embed validation data offline.
for name in leader-rsa leader-ec seal-rsa seal-ec revoked tsa; do
    openssl ocsp -issuer sub-ca.pem -cert "$name.pem" -no_nonce -reqout "$WORK/$name.ocspreq" >/dev/null
    openssl ocsp -index ca/sub-ca.index -rsigner ocsp.pem -rkey ocsp.key.pem -CA sub-ca.pem \
        -reqin "$WORK/$name.ocspreq" -respout "$name.ocsp" -ndays 36500 >/dev/null 2>&1
done

# ------------------------------------------------------------------ key formats for the loaders
# PKCS#1 RSA and SEC1 EC ("traditional" PEM), encrypted PKCS#8, and PKCS#12 with the chain.
openssl pkey -in leader-rsa.key.pem -traditional -out leader-rsa.pkcs1.pem
openssl pkey -in leader-ec.key.pem -traditional -out leader-ec.sec1.pem
for name in leader-rsa leader-ec seal-rsa seal-ec; do
    openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in "$name.key.pem" \
        -passout "pass:$PASS" -out "$name.key.enc.pem"
    openssl pkcs12 -export -inkey "$name.key.pem" -in "$name.pem" -certfile sub-ca.pem \
        -name "$name (TEST ONLY)" -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 \
        -passout "pass:$PASS" -out "$name.p12"
done

# The chain files the signer embeds and the validators trust.
cat sub-ca.pem root-ca.pem >chain.pem

for f in ./*.pem; do banner_pem "$f"; done
rm -f ca/*.old ca/*.attr.old
echo "TEST ONLY: test PKI written to $OUT"
