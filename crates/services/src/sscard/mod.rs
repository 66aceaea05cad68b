//! 电子社保卡 electronic social-security card: dynamic QR codes.

pub mod qr;
