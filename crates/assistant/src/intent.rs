//! Personal questions ("我的公积金余额是多少", "我有几条违章"): recognised by rules over the
//! normalised text, answered by the server running the service for the signed-in citizen under
//! their consent. A slot the service needs and the question lacks (the plate) is asked for, and
//! the next message fills it.

use serde::{Deserialize, Serialize};

use crate::text::normalize;

/// A personal question the assistant can run a service for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// The 公积金 balance and monthly deposit.
    HpfBalance,
    /// Traffic violations and fines due, of one vehicle or all (`plate: None` after 全部).
    TrafficViolations {
        /// The vehicle; `Some("*")` until asked means all.
        plate: Option<String>,
    },
    /// The electronic social-security card's state.
    SsCard,
    /// The citizen's 闪电贷 line: limit, available, outstanding.
    LoanLine,
}

impl Intent {
    /// The slot still missing, with the question that asks for it.
    pub fn missing(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Intent::TrafficViolations { plate: None } => Some((
                "plate",
                "请问要查哪辆车？请告诉我车牌号（例如 川A12345），或回复「全部」查询名下所有车辆。",
            )),
            _ => None,
        }
    }

    /// The service the intent runs (for the turn log and events).
    pub fn service(&self) -> &'static str {
        match self {
            Intent::HpfBalance => "hpf.account",
            Intent::TrafficViolations { .. } => "traffic.violations",
            Intent::SsCard => "sscard.status",
            Intent::LoanLine => "loan.line",
        }
    }
}

/// Words that make a question about the asker's own data.
const MINE: &[&str] = &[
    "我的",
    "我有",
    "我还有",
    "我名下",
    "本人",
    "我现在",
    "我公积金",
    "我社保",
    "我有没有",
    "我这个月",
    "我账户",
    "我交了",
    "我被",
    "我车",
    "帮我查",
    "查我",
    "查一下我",
    "查下我",
];

/// Recognises a personal question; `None` for anything else (a public question).
pub fn detect(question: &str) -> Option<Intent> {
    let text = normalize(question).replace(' ', "");
    let mine = MINE.iter().any(|word| text.contains(word)) || text.starts_with('我');
    if !mine {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|word| text.contains(word));
    let asks_amount = has(&[
        "余额",
        "多少",
        "几条",
        "有没有",
        "查",
        "还剩",
        "状态",
        "明细",
        "情况",
        "能用",
        "额度",
    ]);
    if has(&["公积金"])
        && has(&["余额", "多少钱", "有多少", "还剩", "查", "账户"])
        && !has(&["提取", "贷款", "取出"])
    {
        return Some(Intent::HpfBalance);
    }
    if has(&["违章", "违法", "罚单", "罚款", "被拍", "扣分", "记分"]) && asks_amount {
        return Some(Intent::TrafficViolations {
            plate: find_plate(&text),
        });
    }
    if has(&["社保卡", "社会保障卡"]) && has(&["状态", "激活", "能用", "领", "有没有", "查"])
    {
        return Some(Intent::SsCard);
    }
    if has(&["闪电贷", "额度", "贷款", "借款", "欠款", "要还"]) && asks_amount && !has(&["公积金"])
    {
        return Some(Intent::LoanLine);
    }
    None
}

/// Fills `pending`'s missing slot from `reply`; `None` when the reply does not fill it (then
/// the reply is a new question).
pub fn fill(pending: &Intent, reply: &str) -> Option<Intent> {
    match pending {
        Intent::TrafficViolations { plate: None } => {
            let text = normalize(reply).replace(' ', "");
            if let Some(plate) = find_plate(&text) {
                return Some(Intent::TrafficViolations { plate: Some(plate) });
            }
            ["全部", "所有", "都查", "全查", "不知道"]
                .iter()
                .any(|word| text.contains(word))
                .then(|| Intent::TrafficViolations {
                    plate: Some("*".into()),
                })
        }
        _ => None,
    }
}

const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// The first 机动车号牌 in `text` (a province character, a letter, five or six letters other
/// than I and O or digits; `·` allowed after the letter), upper-cased without the `·`.
pub fn find_plate(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().filter(|c| *c != '·' && *c != ' ').collect();
    for start in 0..chars.len() {
        if !PROVINCES.contains(chars[start]) {
            continue;
        }
        let Some(letter) = chars.get(start + 1).map(char::to_ascii_uppercase) else {
            continue;
        };
        if !letter.is_ascii_uppercase() {
            continue;
        }
        let tail: Vec<char> = chars[start + 2..]
            .iter()
            .map(char::to_ascii_uppercase)
            .take_while(|c| {
                (c.is_ascii_uppercase() || c.is_ascii_digit()) && *c != 'I' && *c != 'O'
            })
            .take(6)
            .collect();
        if tail.len() >= 5 {
            return Some(
                std::iter::once(chars[start])
                    .chain(std::iter::once(letter))
                    .chain(tail)
                    .collect(),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_questions_are_recognised() {
        assert_eq!(detect("我的公积金余额是多少"), Some(Intent::HpfBalance));
        assert_eq!(
            detect("帮我查一下住房公积金账户还剩多少钱"),
            Some(Intent::HpfBalance)
        );
        assert_eq!(
            detect("我有几条违章"),
            Some(Intent::TrafficViolations { plate: None })
        );
        assert_eq!(
            detect("查下我川a·12345有没有罚单"),
            Some(Intent::TrafficViolations {
                plate: Some("川A12345".into())
            })
        );
        assert_eq!(detect("我的社保卡激活了吗，能用吗"), Some(Intent::SsCard));
        assert_eq!(detect("我的闪电贷额度还有多少"), Some(Intent::LoanLine));
    }

    #[test]
    fn public_questions_are_not_personal() {
        assert_eq!(detect("公积金余额怎么查"), None);
        assert_eq!(detect("租房怎么提取公积金"), None);
        assert_eq!(detect("闯红灯扣几分"), None);
        assert_eq!(detect("我想提取公积金租房"), None);
        assert_eq!(detect("我的公积金贷款能贷多少"), None);
    }

    #[test]
    fn the_plate_slot_is_filled_from_the_next_message() {
        let pending = detect("我有几条违章").unwrap();
        assert!(pending.missing().is_some());
        assert_eq!(
            fill(&pending, "川AD12345"),
            Some(Intent::TrafficViolations {
                plate: Some("川AD12345".into())
            })
        );
        assert_eq!(
            fill(&pending, "全部都查一下"),
            Some(Intent::TrafficViolations {
                plate: Some("*".into())
            })
        );
        assert_eq!(fill(&pending, "公积金怎么提取"), None);
        assert_eq!(find_plate("车牌京B·O1234"), None);
    }
}
