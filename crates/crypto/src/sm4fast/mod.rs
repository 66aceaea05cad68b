//! The SM4 block cipher (GB/T 32907-2016) behind [`crate::Sm4Gcm`], with a
//! constant-time SIMD kernel on x86_64.
//!
//! [`FastSm4`] implements the RustCrypto `cipher` 0.5 traits that
//! `aes_gcm::AesGcm` needs (encryption only: GCM runs the block cipher in
//! counter mode and never decrypts with it). It picks one of two paths when it
//! is keyed:
//!
//! - **x86_64 SIMD** ([`x86`]), when the CPU has AES-NI and SSSE3 (detected at
//!   run time, once per process). Several blocks are encrypted at once in a
//!   transposed layout, one 32-bit word of each block per vector lane, and the
//!   SM4 S-box is computed with the AES S-box instruction: both S-boxes are an
//!   inversion in GF(2^8) between affine maps, so
//!   `S_sm4(x) = Q(S_aes(P(x)))` for two affine maps `P` and `Q` (see
//!   [`affine`]), applied 16 bytes at a time as 4-bit table look-ups with
//!   `pshufb`. With AVX2 the kernel runs on 256-bit vectors, with VAES where
//!   present; with GFNI, the affine maps and the inversion are the GFNI
//!   instructions instead. There is no secret-dependent memory access or
//!   branch, and the key schedule runs on the same S-box.
//! - **scalar** ([`scalar`]), everywhere else: the reference algorithm with the
//!   S-box as a 256-byte table, as the `sm4` crate computes it.
//!
//! Every path is checked against the `sm4` crate and the GB/T 32907 examples
//! in this module's tests, on every machine: the scalar path can be forced,
//! and each SIMD level up to the CPU's is run.

use core::fmt;

use cipher::consts::U16;
use cipher::{BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, Key, KeyInit, KeySizeUser};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub(crate) mod affine;
mod scalar;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

/// One 16-byte SM4 block, as the `cipher` traits pass it.
type Block = cipher::Block<FastSm4>;

/// The 32 round keys `rk_0 … rk_31` of the SM4 key schedule.
type RoundKeys = [u32; 32];

/// SM4 with a 128-bit key, encrypting with the fastest kernel this CPU supports.
///
/// Holds only the 32 round keys (and which kernel to use); they are zeroized
/// on drop, and `Debug` prints none of them.
#[derive(Clone)]
pub(crate) struct FastSm4 {
    round_keys: RoundKeys,
    kernel: Kernel,
}

/// Which code encrypts: chosen once per key, from what the CPU offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// The portable reference path.
    Scalar,
    /// The x86_64 SIMD path; the value proves the CPU has its features.
    #[cfg(target_arch = "x86_64")]
    Simd(x86::Simd),
}

impl Kernel {
    /// The best kernel for this CPU (the CPU features are detected once per
    /// process and cached).
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = x86::Simd::detect() {
            return Kernel::Simd(simd);
        }
        Kernel::Scalar
    }
}

impl FastSm4 {
    /// Expands `key` for `kernel`: the SIMD kernel also computes the key
    /// schedule, so that no key-dependent table index is ever used there.
    fn with_kernel(key: &[u8; 16], kernel: Kernel) -> FastSm4 {
        let round_keys = match kernel {
            Kernel::Scalar => scalar::expand_key(key),
            #[cfg(target_arch = "x86_64")]
            Kernel::Simd(simd) => simd.expand_key(key),
        };
        FastSm4 { round_keys, kernel }
    }

    /// A key that always uses the portable path, whatever the CPU offers.
    #[cfg(test)]
    fn new_scalar(key: &[u8; 16]) -> FastSm4 {
        FastSm4::with_kernel(key, Kernel::Scalar)
    }
}

impl KeySizeUser for FastSm4 {
    type KeySize = U16;
}

impl KeyInit for FastSm4 {
    fn new(key: &Key<Self>) -> Self {
        FastSm4::with_kernel(&key.0, Kernel::detect())
    }
}

impl BlockSizeUser for FastSm4 {
    type BlockSize = U16;
}

impl BlockCipherEncrypt for FastSm4 {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = Self::BlockSize>) {
        match self.kernel {
            Kernel::Scalar => f.call(&scalar::Backend::new(&self.round_keys)),
            #[cfg(target_arch = "x86_64")]
            Kernel::Simd(simd) => simd.encrypt_with_backend(&self.round_keys, f),
        }
    }
}

impl fmt::Debug for FastSm4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastSm4")
            .field("kernel", &self.kernel)
            .finish_non_exhaustive()
    }
}

impl Drop for FastSm4 {
    fn drop(&mut self) {
        self.round_keys.zeroize();
    }
}

impl ZeroizeOnDrop for FastSm4 {}
