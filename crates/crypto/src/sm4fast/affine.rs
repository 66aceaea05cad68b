//! The affine maps that turn the AES S-box into the SM4 S-box.
//!
//! The SM4 S-box is `S(x) = A · I(A · x + c) + c` with `I` the inversion in
//! GF(2^8) modulo `x^8 + x^7 + x^6 + x^5 + x^4 + x^2 + 1` (0x1F5), `A` the
//! circulant bit matrix whose row `i` is `0xA7` rotated left by `i`, and
//! `c = 0xD3`. The AES S-box is `S_aes(z) = M · I_aes(z) + 0x63`, `I_aes` the
//! inversion modulo 0x11B. The root `0x23` of 0x1F5 in the AES field gives
//! the field isomorphism `T` (column `j` of `T` is `0x23^j`), with
//! `T · I(y) = I_aes(T · y)`. Putting the pieces together:
//!
//! ```text
//! S(x) = Q · S_aes(P · x + p) + q
//!   P = T · A                p = T · c
//!   Q = A · T⁻¹ · M⁻¹        q = Q · 0x63 + c
//! ```
//!
//! The matrices below are that product; the tests derive them again from
//! `A`, `c`, `T` and `M`, and compare the composed S-box with the standard
//! table for all 256 inputs.
//!
//! A matrix is stored as eight row bytes: bit `i` of `L · x` is the parity of
//! `row[i] & x`. The AES-NI kernels apply an affine map to 16 bytes at once
//! as two 16-entry tables indexed by the low and the high nibble of each byte:
//! `L · x + k = (L · lo + k) ^ (L · (hi << 4))`.
//!
//! With GFNI, `gf2p8affineqb` applies `P` directly, and `gf2p8affineinvqb`
//! applies the AES inversion followed by an affine map: there the second map
//! is `Q · M = A · T⁻¹` with constant `Q · 0x63 + q = c`, since
//! `S(x) = Q · (M · I_aes(P · x + p) + 0x63) + q`.

/// Rows of `P`, the linear part of the map applied before the AES S-box.
pub(crate) const PRE_MATRIX: [u8; 8] = [0x4c, 0x28, 0x7d, 0xb9, 0x1a, 0x22, 0x50, 0x5d];
/// `p`, the constant of the map applied before the AES S-box.
pub(crate) const PRE_CONSTANT: u8 = 0x3e;
/// Rows of `Q`, the linear part of the map applied after the AES S-box.
pub(crate) const POST_MATRIX: [u8; 8] = [0x48, 0x0e, 0x4c, 0x47, 0x65, 0x1d, 0xba, 0xd3];
/// `q`, the constant of the map applied after the AES S-box.
pub(crate) const POST_CONSTANT: u8 = 0x6c;

/// `P · lo + p` for each low nibble `lo`.
pub(crate) const PRE_LOW: [u8; 16] = nibble_table(PRE_MATRIX, PRE_CONSTANT, 0);
/// `P · (hi << 4)` for each high nibble `hi`.
pub(crate) const PRE_HIGH: [u8; 16] = nibble_table(PRE_MATRIX, 0, 4);
/// `Q · lo + q` for each low nibble `lo`.
pub(crate) const POST_LOW: [u8; 16] = nibble_table(POST_MATRIX, POST_CONSTANT, 0);
/// `Q · (hi << 4)` for each high nibble `hi`.
pub(crate) const POST_HIGH: [u8; 16] = nibble_table(POST_MATRIX, 0, 4);

/// Rows of `M`, the linear part of the AES S-box's affine map: row `i` is
/// 0xF1 rotated left by `i` (FIPS 197, 5.1.1).
pub(crate) const AES_MATRIX: [u8; 8] = [0xf1, 0xe3, 0xc7, 0x8f, 0x1f, 0x3e, 0x7c, 0xf8];

/// `P` as the 64-bit matrix operand of `gf2p8affineqb`.
pub(crate) const GFNI_PRE_MATRIX: u64 = gfni_matrix(PRE_MATRIX);
/// The linear part of the map after the inversion, `Q · M`, as the matrix
/// operand of `gf2p8affineinvqb`.
pub(crate) const GFNI_POST_MATRIX: u64 = gfni_matrix(compose(POST_MATRIX, AES_MATRIX));
/// The constant of the map after the inversion, `Q · 0x63 + q`.
pub(crate) const GFNI_POST_CONSTANT: u8 = apply(POST_MATRIX, 0x63) ^ POST_CONSTANT;

/// `L · x`, for `L` given by its eight rows.
pub(crate) const fn apply(rows: [u8; 8], x: u8) -> u8 {
    let mut out = 0_u8;
    let mut bit = 0;
    while bit < 8 {
        out |= (((rows[bit] & x).count_ones() & 1) as u8) << bit;
        bit += 1;
    }
    out
}

/// The 16 values `L · (n << shift) + constant` for `n` in `0..16`.
const fn nibble_table(rows: [u8; 8], constant: u8, shift: u32) -> [u8; 16] {
    let mut table = [0_u8; 16];
    let mut n = 0;
    while n < 16 {
        table[n] = apply(rows, (n as u8) << shift) ^ constant;
        n += 1;
    }
    table
}

/// The product `a · b` (`b` applied first), as rows.
pub(crate) const fn compose(a: [u8; 8], b: [u8; 8]) -> [u8; 8] {
    let mut rows = [0_u8; 8];
    let mut column = 0;
    while column < 8 {
        let image = apply(a, apply(b, 1 << column));
        let mut row = 0;
        while row < 8 {
            rows[row] |= ((image >> row) & 1) << column;
            row += 1;
        }
        column += 1;
    }
    rows
}

/// A matrix in the layout of the GFNI affine instructions: bit `i` of the
/// result is the parity of `x` and byte `7 - i` of the 64-bit operand.
const fn gfni_matrix(rows: [u8; 8]) -> u64 {
    let mut matrix = 0_u64;
    let mut row = 0;
    while row < 8 {
        matrix |= (rows[row] as u64) << (8 * (7 - row));
        row += 1;
    }
    matrix
}
