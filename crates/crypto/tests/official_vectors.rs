//! Known-answer tests with the examples published with each standard. These
//! are the crate's acceptance criteria: a failure here means the primitive is
//! not the standardised one, whatever the round-trip tests say.

use bianmin_crypto::{
    CryptoError, DEFAULT_SM2_USER_ID, Sm2SigningKey, Sm2VerifyingKey, Sm4Gcm, hmac_sm3,
    hmac_sm3_verify, sm2_decrypt, sm3_digest,
};
use hex_literal::hex;
use sm4::Sm4;
use sm4::cipher::{Block, BlockCipherEncrypt, KeyInit};

// ---------------------------------------------------------------- SM4, GB/T 32907-2016 Appendix A

const SM4_KEY: [u8; 16] = hex!("0123456789abcdeffedcba9876543210");

#[test]
fn sm4_gbt32907_example_1_single_block() {
    let cipher = Sm4::new(&SM4_KEY.into());
    let mut block = Block::<Sm4>::from(SM4_KEY); // plaintext equals the key in the example
    cipher.encrypt_block(&mut block);
    assert_eq!(block, hex!("681edf34d206965e86b3e94f536e4246"));
}

#[test]
fn sm4_gbt32907_example_2_one_million_encryptions() {
    let cipher = Sm4::new(&SM4_KEY.into());
    let mut block = Block::<Sm4>::from(SM4_KEY);
    for _ in 0..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(block, hex!("595298c7c6fd271f0402f804c33d3f66"));
}

// ---------------------------------------------------------------- SM3, GB/T 32905-2016 Appendix A

#[test]
fn sm3_gbt32905_example_1_abc() {
    assert_eq!(
        sm3_digest(b"abc"),
        hex!("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
}

#[test]
fn sm3_gbt32905_example_2_abcd_times_16() {
    let message = b"abcd".repeat(16);
    assert_eq!(message.len(), 64);
    assert_eq!(
        sm3_digest(&message),
        hex!("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    );
}

// ---------------------------------------------------------------- HMAC-SM3, GM/T 0042-2015 Appendix D.3

#[test]
fn hmac_sm3_gmt0042_vectors() {
    let key_1_to_32: Vec<u8> = (1..=32).collect();
    let key_1_to_37: Vec<u8> = (1..=37).collect();
    let vectors: [(&[u8], Vec<u8>, [u8; 32]); 4] = [
        (
            &key_1_to_32,
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".repeat(2),
            hex!("ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a"),
        ),
        (
            &key_1_to_37,
            vec![0xcd; 50],
            hex!("220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae"),
        ),
        (
            &[0x0b; 32],
            b"Hi There".to_vec(),
            hex!("c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e"),
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?".to_vec(),
            hex!("2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882"),
        ),
    ];
    for (index, (key, data, tag)) in vectors.iter().enumerate() {
        assert_eq!(hmac_sm3(key, data), *tag, "vector {}", index + 1);
        assert!(hmac_sm3_verify(key, data, tag), "vector {}", index + 1);
    }
}

// ---------------------------------------------------------------- SM4-GCM, RFC 8998 Appendix A.1

const GCM_KEY: [u8; 16] = hex!("0123456789ABCDEFFEDCBA9876543210");
const GCM_IV: [u8; 12] = hex!("00001234567800000000ABCD");
const GCM_AAD: [u8; 20] = hex!("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
const GCM_PLAINTEXT: [u8; 64] = hex!(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
);
const GCM_CIPHERTEXT: [u8; 64] = hex!(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
);
const GCM_TAG: [u8; 16] = hex!("83DE3541E4C2B58177E065A9BF7B62EC");

#[test]
fn sm4_gcm_rfc8998_a1_seal() {
    let sealed = Sm4Gcm::new(&GCM_KEY).seal(&GCM_IV, &GCM_AAD, &GCM_PLAINTEXT);
    assert_eq!(sealed[..64], GCM_CIPHERTEXT);
    assert_eq!(sealed[64..], GCM_TAG);
}

#[test]
fn sm4_gcm_rfc8998_a1_open() {
    let sealed = [GCM_CIPHERTEXT.as_slice(), GCM_TAG.as_slice()].concat();
    let gcm = Sm4Gcm::new(&GCM_KEY);
    assert_eq!(gcm.open(&GCM_IV, &GCM_AAD, &sealed).unwrap(), GCM_PLAINTEXT);

    let mut prefixed = GCM_IV.to_vec();
    prefixed.extend_from_slice(&sealed);
    assert_eq!(
        gcm.open_with_nonce_prefix(&GCM_AAD, &prefixed).unwrap(),
        GCM_PLAINTEXT
    );
}

#[test]
fn sm4_gcm_rfc8998_a1_rejects_each_kind_of_tampering() {
    let gcm = Sm4Gcm::new(&GCM_KEY);
    let sealed = [GCM_CIPHERTEXT.as_slice(), GCM_TAG.as_slice()].concat();

    for index in [0, 63, 64, 79] {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        assert_eq!(
            gcm.open(&GCM_IV, &GCM_AAD, &tampered),
            Err(CryptoError::DecryptionFailed),
            "byte {index} flipped"
        );
    }
    let mut aad = GCM_AAD;
    aad[19] ^= 0x01;
    assert_eq!(
        gcm.open(&GCM_IV, &aad, &sealed),
        Err(CryptoError::DecryptionFailed)
    );
    let mut iv = GCM_IV;
    iv[0] ^= 0x01;
    assert_eq!(
        gcm.open(&iv, &GCM_AAD, &sealed),
        Err(CryptoError::DecryptionFailed)
    );
}

// ---------------------------------------------------------------- SM2, GB/T 32918.5-2017 (recommended curve)

const SM2_PRIVATE_KEY: [u8; 32] =
    hex!("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8");
const SM2_PUBLIC_KEY: [u8; 65] = hex!(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
);
const SM2_SIGNATURE: [u8; 64] = hex!(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3" // r
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA" // s
);

#[test]
fn sm2_gbt32918_signature_example_verifies() {
    let public = Sm2VerifyingKey::from_sec1_bytes(&SM2_PUBLIC_KEY).unwrap();
    assert_eq!(
        public.verify("1234567812345678", b"message digest", &SM2_SIGNATURE),
        Ok(())
    );
    assert_eq!(DEFAULT_SM2_USER_ID, "1234567812345678");
}

#[test]
fn sm2_gbt32918_signature_example_binds_user_id_and_message() {
    let public = Sm2VerifyingKey::from_sec1_bytes(&SM2_PUBLIC_KEY).unwrap();
    assert_eq!(
        public.verify("1234567812345679", b"message digest", &SM2_SIGNATURE),
        Err(CryptoError::InvalidSignature)
    );
    assert_eq!(
        public.verify(DEFAULT_SM2_USER_ID, b"message digesT", &SM2_SIGNATURE),
        Err(CryptoError::InvalidSignature)
    );
    let mut tampered = SM2_SIGNATURE;
    tampered[63] ^= 0x01;
    assert_eq!(
        public.verify(DEFAULT_SM2_USER_ID, b"message digest", &tampered),
        Err(CryptoError::InvalidSignature)
    );
}

#[test]
fn sm2_gbt32918_private_key_gives_the_example_public_key() {
    let key = Sm2SigningKey::from_secret_bytes(&SM2_PRIVATE_KEY).unwrap();
    assert_eq!(key.verifying_key().to_sec1_bytes(), SM2_PUBLIC_KEY);
    assert_eq!(*key.secret_bytes(), SM2_PRIVATE_KEY);
}

#[test]
fn sm2_gbt32918_example_key_signs_verifiably() {
    // k is random here, so r || s differs from the example; the example's
    // verifier must still accept it.
    let key = Sm2SigningKey::from_secret_bytes(&SM2_PRIVATE_KEY).unwrap();
    let signature = key.sign(DEFAULT_SM2_USER_ID, b"message digest");
    let public = Sm2VerifyingKey::from_sec1_bytes(&SM2_PUBLIC_KEY).unwrap();
    assert_eq!(
        public.verify(DEFAULT_SM2_USER_ID, b"message digest", &signature),
        Ok(())
    );
}

#[test]
fn sm2_gbt32918_encryption_example_decrypts() {
    // The standard's encryption example (same key pair, k = 59276E27...),
    // laid out C1 || C3 || C2.
    let ciphertext = hex!(
        "04"
        "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73" // C1.x
        "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0" // C1.y
        "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766" // C3
        "21886CA989CA9C7D58087307CA93092D651EFA"                           // C2
    );
    let key = Sm2SigningKey::from_secret_bytes(&SM2_PRIVATE_KEY).unwrap();
    assert_eq!(
        sm2_decrypt(&key, &ciphertext).unwrap(),
        b"encryption standard"
    );
}
