//! Generating 统一社会信用代码 for the simulated organisations; the code itself, its parsing and
//! its check characters are `bianmin_core::uscc`.

use rand::Rng;

pub use bianmin_core::uscc::{Uscc, UsccError, check_character, organisation_check_character};

/// A fresh random code for an organisation registered by `authority` (e.g. `'9'` for the
/// market regulator, `'1'` for 机构编制), of kind `kind` (`'1'` enterprise or organ, `'2'`
/// individual business or public institution) in `region` (six digits), with a valid GB 11714
/// organisation code inside.
pub(crate) fn generate(rng: &mut impl Rng, authority: char, kind: char, region: &str) -> Uscc {
    let mut code = String::with_capacity(17);
    code.push(authority);
    code.push(kind);
    code.push_str(region);
    let body: String = (0..8)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    code.push_str(&body);
    // Eight digits always have an organisation check character.
    code.push(organisation_check_character(&body).unwrap_or('0'));
    match Uscc::with_check_character(&code) {
        Ok(uscc) => uscc,
        // The callers pass a registration authority and kind of the set and a six-digit region:
        // seventeen characters of the set always make a valid code.
        Err(error) => unreachable!("generated code {code} is invalid: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeding::{Stream, stream_rng};

    #[test]
    fn generated_codes_are_valid_in_both_checks() {
        let mut rng = stream_rng(1, 1, Stream::Employer);
        for _ in 0..1000 {
            let code = generate(&mut rng, '9', '1', "510104");
            assert_eq!(Uscc::parse(code.as_str()), Ok(code.clone()));
            assert_eq!(code.region_code(), "510104");
            let organisation = &code.as_str()[8..17];
            assert_eq!(
                organisation_check_character(&organisation[..8]),
                Some(char::from(organisation.as_bytes()[8]))
            );
        }
    }
}
