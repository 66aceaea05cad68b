//! Masking of personal data for logs and API responses, after JR/T 0171-2020
//! (个人金融信息保护技术规范).
//!
//! Every function accepts any string, malformed or not, and never panics: they work on
//! characters rather than bytes. Hidden characters become `*`. Where a value does not have
//! the expected shape, at most the first third and the last quarter are kept, and never more
//! than half of it.

use std::iter;

const STAR: char = '*';

/// Keeps the first `head` and last `tail` characters and stars the rest, one star per hidden
/// character. Callers guarantee `head + tail <= chars.len()`.
fn keep_ends(chars: &[char], head: usize, tail: usize) -> String {
    let hidden = chars.len().saturating_sub(head + tail);
    chars[..head]
        .iter()
        .copied()
        .chain(iter::repeat_n(STAR, hidden))
        .chain(chars[head + hidden..].iter().copied())
        .collect()
}

/// The rule for values of unexpected shape: at most a third at the front, a quarter at the
/// back, and half in total.
fn keep_little(chars: &[char]) -> String {
    let length = chars.len();
    let head = length / 3;
    let tail = (length / 4).min(length / 2 - head);
    keep_ends(chars, head, tail)
}

/// Masks a resident id as first 6 + `********` + last 4, e.g. `510104********1234`.
///
/// Strings that are not 18 characters long (a typo, or an old 15-digit id) fall back to the
/// rule for malformed values and reveal at most half of their characters.
pub fn mask_resident_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() == 18 {
        keep_ends(&chars, 6, 4)
    } else {
        keep_little(&chars)
    }
}

/// Masks an 11-digit mobile number as first 3 + `****` + last 4, e.g. `138****1234`; other
/// lengths fall back to the rule for malformed values.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() == 11 {
        keep_ends(&chars, 3, 4)
    } else {
        keep_little(&chars)
    }
}

/// Masks a bank card number: first 6 (the issuer) and last 4 digits of a 12–19 digit number,
/// e.g. `622202******1234`; anything else keeps only its last 4 characters, or fewer so that
/// at most half is shown.
///
/// Spaces or dashes make a number "anything else", which errs on the side of showing less.
pub fn mask_bank_card(card: &str) -> String {
    let chars: Vec<char> = card.chars().collect();
    if (12..=19).contains(&chars.len()) && chars.iter().all(char::is_ascii_digit) {
        keep_ends(&chars, 6, 4)
    } else {
        keep_ends(&chars, 0, 4.min(chars.len() / 2))
    }
}

/// Masks a personal name.
///
/// Chinese names keep only the last character (`张三` → `*三`, `欧阳明` → `**明`); names in
/// Latin script keep only the first letter (`Alice` → `A****`). A one-character name is
/// fully hidden.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let shown = usize::from(chars.len() >= 2);
    match chars.first() {
        Some(first) if first.is_ascii_alphabetic() => keep_ends(&chars, shown, 0),
        _ => keep_ends(&chars, 0, shown),
    }
}

/// Masks an e-mail address, keeping the first character of the local part and the domain:
/// `zhangsan@example.com` → `z***@example.com`. The star count is fixed so the length of the
/// local part is hidden too. Strings without a local part fall back to the rule for
/// malformed values.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let mut local_chars = local.chars();
            let shown = match (local_chars.next(), local_chars.next()) {
                (Some(first), Some(_)) => first.to_string(),
                _ => String::new(),
            };
            format!("{shown}***@{domain}")
        }
        _ => keep_little(&email.chars().collect::<Vec<_>>()),
    }
}

/// What follows the kept part of an address; fixed so the length of the rest is hidden.
const ADDRESS_TAIL: &str = "******";

/// Masks an address, keeping it only down to the county level:
/// `四川省成都市锦江区春熙路 1 号` → `四川省成都市锦江区******`.
///
/// The administrative prefix is recognised by its suffixes (省, 自治区, 市, 自治州, 区, 县,
/// 旗, …), so `北京市朝阳区…`, `成都市都江堰市…` and `锦江区…` work as well. An address
/// with no recognisable prefix is hidden entirely. This is a heuristic: a street or estate
/// name that ends like a division and follows a city without a county level may be kept
/// (`成都市幸福小区` is caught, others may not be).
pub fn mask_address(address: &str) -> String {
    if address.is_empty() {
        return String::new();
    }
    let kept = administrative_prefix_len(address);
    format!("{}{ADDRESS_TAIL}", &address[..kept])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Province,
    Prefecture,
    County,
}

/// Division suffixes, longer ones first so that `自治区` wins over `区` at the same place.
/// `None` marks `市`, whose level depends on what precedes it.
const SUFFIXES: [(&str, Option<Level>); 12] = [
    ("特别行政区", Some(Level::Province)),
    ("自治区", Some(Level::Province)),
    ("自治州", Some(Level::Prefecture)),
    ("自治县", Some(Level::County)),
    ("自治旗", Some(Level::County)),
    ("地区", Some(Level::Prefecture)),
    ("省", Some(Level::Province)),
    ("盟", Some(Level::Prefecture)),
    ("市", None),
    ("区", Some(Level::County)),
    ("县", Some(Level::County)),
    ("旗", Some(Level::County)),
];

/// Places that end in `区` without being divisions, common in street addresses.
const NOT_DIVISIONS: [&str; 6] = ["小区", "社区", "园区", "校区", "景区", "厂区"];

/// The longest division name is 15 characters (双江拉祜族佤族布朗族傣族自治县).
const MAX_DIVISION_CHARS: usize = 16;

/// Byte length of the leading province / prefecture / county names, each optional but in
/// that order.
fn administrative_prefix_len(address: &str) -> usize {
    let mut kept = 0;
    let mut last_level = None;
    while last_level < Some(Level::County) {
        let Some((length, level)) = next_division(&address[kept..]) else {
            break;
        };
        // A city after a prefecture is a county-level city (成都市都江堰市); otherwise it is a
        // prefecture-level city or a municipality (成都市, 北京市).
        let level = level.unwrap_or(if last_level == Some(Level::Prefecture) {
            Level::County
        } else {
            Level::Prefecture
        });
        if Some(level) <= last_level {
            break;
        }
        kept += length;
        last_level = Some(level);
    }
    kept
}

/// The first division name at the start of `rest`: its byte length and level.
fn next_division(rest: &str) -> Option<(usize, Option<Level>)> {
    let (end, level) = rest
        .char_indices()
        .take(MAX_DIVISION_CHARS)
        .find_map(|(start, c)| {
            let end = start + c.len_utf8();
            let candidate = &rest[..end];
            SUFFIXES
                .iter()
                // A suffix alone is not a name: `市中区` is a district, not `市` + `中区`.
                .find(|(suffix, _)| candidate.len() > suffix.len() && candidate.ends_with(suffix))
                .map(|(_, level)| (end, *level))
        })?;
    let name = &rest[..end];
    let is_division = !name.chars().any(|c| c.is_ascii_digit())
        && !NOT_DIVISIONS.iter().any(|place| name.ends_with(place));
    is_division.then_some((end, level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resident_ids_keep_region_and_last_four() {
        assert_eq!(mask_resident_id("510104199003071234"), "510104********1234");
        assert_eq!(mask_resident_id("11010519491231002X"), "110105********002X");
    }

    #[test]
    fn malformed_resident_ids_reveal_at_most_half() {
        assert_eq!(mask_resident_id("510104900307123"), "51010********23");
        assert_eq!(mask_resident_id("123456789012"), "1234******12");
        assert_eq!(mask_resident_id("12"), "**");
        assert_eq!(mask_resident_id("1"), "*");
        assert_eq!(mask_resident_id(""), "");
    }

    #[test]
    fn phones_keep_first_three_and_last_four() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("+8613812341234"), "+861*******234");
    }

    #[test]
    fn bank_cards_keep_issuer_and_last_four() {
        assert_eq!(mask_bank_card("6222021234567890123"), "622202*********0123");
        assert_eq!(mask_bank_card("622202123456"), "622202**3456");
        assert_eq!(mask_bank_card("62220212345"), "*******2345");
        assert_eq!(mask_bank_card("6222 0212 3456 7890"), "***************7890");
        assert_eq!(mask_bank_card("1234"), "**34");
    }

    #[test]
    fn names_hide_all_but_one_character() {
        assert_eq!(mask_name("张三"), "*三");
        assert_eq!(mask_name("欧阳明"), "**明");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name("Alice"), "A****");
        assert_eq!(mask_name("Li Wei"), "L*****");
        assert_eq!(mask_name("A"), "*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn emails_keep_first_character_and_domain() {
        assert_eq!(mask_email("zhangsan@example.com"), "z***@example.com");
        assert_eq!(mask_email("z@example.com"), "***@example.com");
        assert_eq!(mask_email("张三@例子.中国"), "张***@例子.中国");
        assert_eq!(mask_email("@example.com"), "@exa******om");
        assert_eq!(mask_email("not-an-email"), "not-******il");
    }

    #[test]
    fn addresses_keep_down_to_the_county() {
        let cases = [
            ("四川省成都市锦江区春熙路1号", "四川省成都市锦江区******"),
            (
                "四川省成都市都江堰市幸福镇2组",
                "四川省成都市都江堰市******",
            ),
            ("成都市武侯区人民南路四段", "成都市武侯区******"),
            ("北京市朝阳区建国路88号", "北京市朝阳区******"),
            (
                "广西壮族自治区南宁市青秀区民族大道",
                "广西壮族自治区南宁市青秀区******",
            ),
            (
                "四川省阿坝藏族羌族自治州汶川县威州镇",
                "四川省阿坝藏族羌族自治州汶川县******",
            ),
            ("山东省济南市市中区经四路", "山东省济南市市中区******"),
            ("锦江区春熙路", "锦江区******"),
            ("成都市幸福小区5栋", "成都市******"),
            ("成都市春熙路100号", "成都市******"),
            ("春熙路1号", "******"),
            ("四川省成都市锦江区", "四川省成都市锦江区******"),
        ];
        for (address, masked) in cases {
            assert_eq!(mask_address(address), masked, "{address}");
        }
        assert_eq!(mask_address(""), "");
    }

    /// Strings without the mask character, so that "output differs from input" is meaningful.
    fn unstarred(min_chars: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(
            any::<char>().prop_filter("no star", |c| *c != STAR),
            min_chars..40,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn revealed(original: &str, masked: &str) -> usize {
        original
            .chars()
            .zip(masked.chars())
            .filter(|(o, m)| o == m)
            .count()
    }

    proptest! {
        #[test]
        fn masking_never_returns_the_input(input in unstarred(2)) {
            for masked in [
                mask_resident_id(&input),
                mask_phone(&input),
                mask_bank_card(&input),
                mask_name(&input),
                mask_email(&input),
                mask_address(&input),
            ] {
                prop_assert_ne!(&masked, &input);
            }
        }

        #[test]
        fn malformed_values_reveal_at_most_half(input in unstarred(0)) {
            let length = input.chars().count();
            if length != 18 {
                prop_assert!(revealed(&input, &mask_resident_id(&input)) <= length / 2);
            }
            if length != 11 {
                prop_assert!(revealed(&input, &mask_phone(&input)) <= length / 2);
            }
            if !(12..=19).contains(&length) {
                prop_assert!(revealed(&input, &mask_bank_card(&input)) <= length / 2);
            }
        }

        #[test]
        fn length_preserving_masks_keep_the_length(input in ".*") {
            let length = input.chars().count();
            prop_assert_eq!(mask_resident_id(&input).chars().count(), length);
            prop_assert_eq!(mask_phone(&input).chars().count(), length);
            prop_assert_eq!(mask_bank_card(&input).chars().count(), length);
            prop_assert_eq!(mask_name(&input).chars().count(), length);
        }

        #[test]
        fn masking_never_panics(input in any::<String>()) {
            let _ = (
                mask_resident_id(&input),
                mask_phone(&input),
                mask_bank_card(&input),
                mask_name(&input),
                mask_email(&input),
                mask_address(&input),
            );
        }

        #[test]
        fn addresses_never_leak_what_follows_the_county(street in "[a-z0-9路街号栋]{1,20}") {
            let masked = mask_address(&format!("四川省成都市锦江区{street}"));
            prop_assert_eq!(masked, "四川省成都市锦江区******");
        }
    }
}
