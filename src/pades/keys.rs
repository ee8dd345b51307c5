//! Signing keys and certificates: loading from the formats signers are given, and the checks
//! that must hold before a key may sign (it belongs to the certificate; the certificate allows
//! document signing).
//!
//! Keys: PKCS#8 (PEM `PRIVATE KEY` or DER), encrypted PKCS#8 (PEM `ENCRYPTED PRIVATE KEY` or
//! DER, unlocked by the holder's PIN), PKCS#1 RSA (`RSA PRIVATE KEY`), SEC1 EC
//! (`EC PRIVATE KEY`). RSA 2048–4096 bits (ring's range) and ECDSA P-256 / P-384. Text before,
//! between and after PEM blocks (such as a "TEST ONLY" line) is ignored, as RFC 7468 allows.

use der::asn1::ObjectIdentifier;
use der::{Any, Decode};
use pkcs8::EncryptedPrivateKeyInfo;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, RSA_PKCS1_SHA256,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::{PadesError, PadesResult};

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// A private key that can sign, held in ring's key types.
pub enum SigningKey {
    Rsa(RsaKeyPair),
    EcdsaP256(EcdsaKeyPair),
    EcdsaP384(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            Self::Rsa(_) => "SigningKey::Rsa(..)",
            Self::EcdsaP256(_) => "SigningKey::EcdsaP256(..)",
            Self::EcdsaP384(_) => "SigningKey::EcdsaP384(..)",
        })
    }
}

/// One PEM block (label + DER) or, when the input has no PEM boundary, the input as DER.
pub(crate) fn pem_blocks(bytes: &[u8]) -> PadesResult<Vec<(String, Vec<u8>)>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    if find(bytes, BEGIN, 0).is_none() {
        return Ok(vec![(String::new(), bytes.to_vec())]);
    }
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(start) = find(bytes, BEGIN, at) {
        let end_marker =
            find(bytes, END, start).ok_or_else(|| PadesError::Key("a PEM block has no END line".into()))?;
        let line_end = bytes[end_marker..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| end_marker + p + 1);
        let (label, der) = der::pem::decode_vec(&bytes[start..line_end])
            .map_err(|e| PadesError::Key(format!("malformed PEM block: {e}")))?;
        blocks.push((label.to_string(), der));
        at = line_end;
    }
    Ok(blocks)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Every certificate in a PEM file (a chain may hold several) or one DER certificate.
pub fn load_certificates(bytes: &[u8]) -> PadesResult<Vec<Certificate>> {
    let blocks = pem_blocks(bytes).map_err(|e| PadesError::Certificate(e.to_string()))?;
    let mut certs = Vec::new();
    for (label, der) in blocks {
        if !label.is_empty() && label != "CERTIFICATE" {
            continue;
        }
        certs.push(
            Certificate::from_der(&der)
                .map_err(|e| PadesError::Certificate(format!("not an X.509 certificate: {e}")))?,
        );
    }
    if certs.is_empty() {
        return Err(PadesError::Certificate("no certificate found".into()));
    }
    Ok(certs)
}

fn subject_public_key(cert: &Certificate) -> &[u8] {
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
}

impl SigningKey {
    /// Loads a key in any supported format. `pin` unlocks an encrypted PKCS#8 key; `cert` gives
    /// the public key that a SEC1 key without one needs.
    pub fn from_bytes(bytes: &[u8], pin: Option<&str>, cert: &Certificate) -> PadesResult<Self> {
        let blocks = pem_blocks(bytes)?;
        let (label, der) = blocks
            .into_iter()
            .find(|(label, _)| label.is_empty() || label.ends_with("PRIVATE KEY"))
            .ok_or_else(|| PadesError::Key("no private key found".into()))?;
        let der = Zeroizing::new(der);
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8(&der),
            "ENCRYPTED PRIVATE KEY" => Self::from_encrypted_pkcs8(&der, pin),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(Self::Rsa)
                .map_err(|e| PadesError::Key(format!("unusable PKCS#1 RSA key: {e}"))),
            "EC PRIVATE KEY" => Self::from_sec1(&der, cert),
            // DER: PKCS#8, encrypted PKCS#8, then the traditional PKCS#1 and SEC1 forms.
            "" => Self::from_pkcs8(&der).or_else(|plain| {
                if EncryptedPrivateKeyInfo::from_der(&der).is_ok() {
                    Self::from_encrypted_pkcs8(&der, pin)
                } else if let Ok(k) = RsaKeyPair::from_der(&der) {
                    Ok(Self::Rsa(k))
                } else {
                    Self::from_sec1(&der, cert).map_err(|_| plain)
                }
            }),
            other => Err(PadesError::Key(format!("unsupported PEM block \"{other}\""))),
        }
    }

    fn from_pkcs8(der: &[u8]) -> PadesResult<Self> {
        let rng = SystemRandom::new();
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Ok(Self::Rsa(k));
        }
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng) {
            return Ok(Self::EcdsaP256(k));
        }
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der, &rng) {
            return Ok(Self::EcdsaP384(k));
        }
        Err(PadesError::Key(
            "not a usable PKCS#8 key (supported: RSA 2048-4096 bits, ECDSA P-256 and P-384)".into(),
        ))
    }

    fn from_encrypted_pkcs8(der: &[u8], pin: Option<&str>) -> PadesResult<Self> {
        let pin = pin.ok_or_else(|| PadesError::Key("the key is encrypted; a PIN is needed".into()))?;
        let info = EncryptedPrivateKeyInfo::from_der(der)
            .map_err(|e| PadesError::Key(format!("malformed encrypted PKCS#8 key: {e}")))?;
        let plain = info
            .decrypt(pin)
            .map_err(|_| PadesError::Key("wrong PIN (the key could not be decrypted)".into()))?;
        Self::from_pkcs8(plain.as_bytes())
    }

    fn from_sec1(der: &[u8], cert: &Certificate) -> PadesResult<Self> {
        let key =
            sec1::EcPrivateKey::from_der(der).map_err(|e| PadesError::Key(format!("malformed SEC1 EC key: {e}")))?;
        let public = key.public_key.unwrap_or_else(|| subject_public_key(cert));
        let rng = SystemRandom::new();
        let p256 = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            key.private_key,
            public,
            &rng,
        );
        if let Ok(k) = p256 {
            return Ok(Self::EcdsaP256(k));
        }
        EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P384_SHA384_ASN1_SIGNING, key.private_key, public, &rng)
            .map(Self::EcdsaP384)
            .map_err(|e| PadesError::Key(format!("unusable SEC1 EC key (P-256 and P-384 supported): {e}")))
    }

    /// The public key as it appears in a certificate's subjectPublicKey bit string.
    fn public_key(&self) -> &[u8] {
        match self {
            Self::Rsa(k) => k.public().as_ref(),
            Self::EcdsaP256(k) | Self::EcdsaP384(k) => k.public_key().as_ref(),
        }
    }

    /// Refuses a key that does not belong to `cert`.
    pub fn check_matches(&self, cert: &Certificate) -> PadesResult<()> {
        if self.public_key() == subject_public_key(cert) {
            Ok(())
        } else {
            Err(PadesError::KeyMismatch)
        }
    }

    /// The CMS signatureAlgorithm for this key.
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        match self {
            Self::Rsa(_) => AlgorithmIdentifierOwned {
                oid: SHA256_WITH_RSA,
                parameters: Some(Any::null()),
            },
            Self::EcdsaP256(_) => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            Self::EcdsaP384(_) => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA384,
                parameters: None,
            },
        }
    }

    /// Signs `message` (ring hashes it): RSA PKCS#1 v1.5 with SHA-256, or ECDSA as ASN.1 DER.
    pub fn sign(&self, message: &[u8]) -> PadesResult<Vec<u8>> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| PadesError::Key("RSA signing failed".into()))?;
                Ok(sig)
            }
            Self::EcdsaP256(k) | Self::EcdsaP384(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| PadesError::Key("ECDSA signing failed".into())),
        }
    }
}

/// A signer certificate must allow digitalSignature or nonRepudiation when it has a key usage.
pub fn check_signing_usage(cert: &Certificate) -> PadesResult<()> {
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == KEY_USAGE)
    else {
        return Ok(());
    };
    let ku = KeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|e| PadesError::Certificate(format!("malformed key usage extension: {e}")))?;
    if ku.digital_signature() || ku.non_repudiation() {
        Ok(())
    } else {
        Err(PadesError::KeyUsage)
    }
}

/// What a PKCS#12 file holds for signing: the key, its certificate and the other certificates.
#[derive(Debug)]
pub struct Pkcs12Bundle {
    pub key: SigningKey,
    pub cert: Certificate,
    pub chain: Vec<Certificate>,
}

/// Largest PKCS#12 file read (a key and a chain are a few kilobytes).
pub const MAX_PKCS12_BYTES: usize = 1024 * 1024;

/// Opens a PKCS#12 (PFX) file with `pin`: its integrity MAC is checked and its bags decrypted
/// (PBES2 AES-CBC as OpenSSL 3 writes, or the legacy 3DES/RC2/RC4 schemes). The certificate that
/// matches the key is the signer's; the others become the chain.
pub fn from_pkcs12(bytes: &[u8], pin: &str) -> PadesResult<Pkcs12Bundle> {
    if bytes.len() > MAX_PKCS12_BYTES {
        return Err(PadesError::Key(format!(
            "the PKCS#12 file is larger than {MAX_PKCS12_BYTES} bytes"
        )));
    }
    let store = p12_keystore::KeyStore::from_pkcs12(bytes, pin).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => {
            PadesError::Key("wrong PIN (the PKCS#12 integrity check failed)".into())
        }
        other => PadesError::Key(format!("unreadable PKCS#12 file: {other}")),
    })?;
    let (_, entry) = store
        .private_key_chain()
        .ok_or_else(|| PadesError::Key("the PKCS#12 file holds no private key".into()))?;
    let mut certs = Vec::new();
    for c in entry.chain() {
        certs
            .push(Certificate::from_der(c.as_der()).map_err(|e| {
                PadesError::Certificate(format!("the PKCS#12 file holds a malformed certificate: {e}"))
            })?);
    }
    let der = Zeroizing::new(entry.key().to_vec());
    let key = SigningKey::from_pkcs8(&der)?;
    let at = certs
        .iter()
        .position(|c| key.check_matches(c).is_ok())
        .ok_or(PadesError::KeyMismatch)?;
    let cert = certs.remove(at);
    Ok(Pkcs12Bundle {
        key,
        cert,
        chain: certs,
    })
}
