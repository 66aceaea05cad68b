//! Names and mobile numbers.

use rand::Rng;

use bianmin_core::{Gender, PhoneNumber};

use super::pick_weighted;

/// Common surnames in Sichuan with relative frequencies (per mille, approximate).
const SURNAMES: [(&str, u32); 64] = [
    ("李", 75),
    ("王", 65),
    ("张", 60),
    ("刘", 55),
    ("陈", 52),
    ("杨", 45),
    ("黄", 30),
    ("周", 28),
    ("罗", 26),
    ("吴", 24),
    ("赵", 20),
    ("何", 20),
    ("徐", 16),
    ("胡", 16),
    ("曾", 15),
    ("邓", 15),
    ("谢", 14),
    ("唐", 14),
    ("彭", 13),
    ("郑", 10),
    ("蒋", 10),
    ("冯", 10),
    ("朱", 10),
    ("林", 9),
    ("高", 9),
    ("马", 9),
    ("孙", 8),
    ("梁", 8),
    ("宋", 8),
    ("任", 8),
    ("袁", 8),
    ("余", 8),
    ("廖", 8),
    ("杜", 7),
    ("付", 7),
    ("肖", 7),
    ("范", 6),
    ("田", 6),
    ("熊", 6),
    ("钟", 6),
    ("谭", 6),
    ("汪", 5),
    ("魏", 5),
    ("苏", 5),
    ("卢", 5),
    ("程", 5),
    ("雷", 5),
    ("向", 5),
    ("龙", 4),
    ("蔡", 4),
    ("叶", 4),
    ("韩", 4),
    ("邹", 4),
    ("文", 4),
    ("贾", 3),
    ("丁", 3),
    ("沈", 3),
    ("姜", 3),
    ("万", 3),
    ("严", 3),
    ("侯", 3),
    ("康", 3),
    ("牟", 3),
    ("苟", 2),
];

const MALE_CHARACTERS: [&str; 48] = [
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "洋", "峰", "建",
    "志", "文", "博", "阳", "东", "海", "晨", "然", "睿", "轩", "子", "成", "康", "诚", "亮", "毅",
];

const FEMALE_CHARACTERS: [&str; 48] = [
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "婷", "雪", "倩", "琳", "颖", "慧",
    "萍", "红", "燕", "佳", "欣", "怡", "悦", "梦", "雨", "涵", "琪", "璐", "晶", "露", "蓉", "莉",
    "洁", "丹", "妍", "瑶", "思", "诗", "晓", "月", "婧", "薇", "岚", "茜", "婉", "馨", "然", "琴",
];

/// Mobile prefixes of the three operators.
const MOBILE_PREFIXES: [&str; 24] = [
    "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "157", "158",
    "159", "173", "177", "180", "181", "182", "183", "187", "188", "189", "199",
];

/// A name in the usual form: surname plus one or two characters; older people more often
/// have a one-character given name.
pub(crate) fn full_name(rng: &mut impl Rng, gender: Gender, age: u32) -> String {
    let surname = SURNAMES[pick_weighted(rng, &SURNAMES.map(|(_, weight)| weight))].0;
    let characters = match gender {
        Gender::Male => &MALE_CHARACTERS,
        Gender::Female => &FEMALE_CHARACTERS,
    };
    let single = rng.random_bool(if age > 45 { 0.35 } else { 0.15 });
    let mut name = String::with_capacity(9);
    name.push_str(surname);
    name.push_str(characters[rng.random_range(0..characters.len())]);
    if !single {
        name.push_str(characters[rng.random_range(0..characters.len())]);
    }
    name
}

/// A mobile number unique within the population: the last eight digits are an affine
/// bijection of the index modulo 10^8, the prefix is random.
pub(crate) fn mobile(rng: &mut impl Rng, seed: u64, index: u32) -> PhoneNumber {
    // 48_271_093 is odd and not a multiple of 5, so it is invertible modulo 10^8.
    let suffix = (u64::from(index) * 48_271_093 + seed % 100_000_000) % 100_000_000;
    let prefix = MOBILE_PREFIXES[rng.random_range(0..MOBILE_PREFIXES.len())];
    let number = format!("{prefix}{suffix:08}");
    // A listed mobile prefix followed by eight digits is a valid mainland mobile number.
    PhoneNumber::parse(&number)
        .unwrap_or_else(|error| unreachable!("generated phone number is invalid: {error}"))
}
