//! Chinese text analysis: normalisation (full and half width, case, numbers), segmentation with
//! jieba-rs and a domain dictionary, synonyms mapped to one canonical word, and character bigrams
//! as the fallback for words the dictionary does not know.

use std::collections::{HashMap, HashSet};
use std::io::BufReader;

use jieba_rs::Jieba;
use unicode_normalization::UnicodeNormalization;

use crate::AssistantError;

/// The domain dictionary shipped with the starter knowledge base (jieba's format:
/// `word frequency tag`).
pub const STARTER_DICTIONARY: &str = include_str!("../kb/dict.txt");
/// The synonym groups shipped with the starter knowledge base.
pub const STARTER_SYNONYMS: &str = include_str!("../kb/synonyms.txt");

/// Words that carry no meaning for retrieval: particles, pronouns and greetings.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "嘛",
    "哦",
    "么",
    "我",
    "我们",
    "你",
    "您",
    "你们",
    "他",
    "她",
    "它",
    "是",
    "在",
    "和",
    "与",
    "及",
    "或",
    "请问",
    "你好",
    "您好",
    "一下",
    "想",
    "要",
    "这个",
    "那个",
    "这",
    "那",
    "就",
    "都",
    "也",
    "还",
    "又",
    "很",
    "吧",
    "哈",
    "啦",
    "呗",
    "着",
    "过",
    "给",
    "把",
    "被",
    "让",
    "个",
    "谢谢",
    "麻烦",
    "帮",
    "帮我",
    "问",
    "问下",
    "问一下",
    "想问",
    "咨询",
];

/// A text taken apart for retrieval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analyzed {
    /// Segmented words, synonyms mapped to their canonical word, stop words dropped.
    pub words: Vec<String>,
    /// Character bigrams of the canonical text's Chinese runs, and its Latin or digit runs whole.
    pub grams: Vec<String>,
}

/// Segmentation, synonyms and stop words. Building one loads jieba's dictionary (tens of
/// milliseconds); build it once and share it.
pub struct Analyzer {
    jieba: Jieba,
    synonyms: HashMap<String, String>,
    stop_words: HashSet<&'static str>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Analyzer")
            .field("synonyms", &self.synonyms.len())
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// An analyzer with jieba's dictionary, the domain `dictionary` added to it, and the
    /// `synonyms` groups (one group per line, the canonical word first; `#` starts a comment).
    pub fn new(dictionary: &str, synonyms: &str) -> Result<Self, AssistantError> {
        let mut jieba = Jieba::new();
        jieba
            .load_dict(&mut BufReader::new(dictionary.as_bytes()))
            .map_err(|error| AssistantError::Invalid(format!("the domain dictionary: {error}")))?;
        let mut map = HashMap::new();
        for (number, line) in synonyms.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let group: Vec<String> = line.split_whitespace().map(normalize).collect();
            let Some(canonical) = group.first() else {
                continue;
            };
            if group.len() < 2 {
                return Err(AssistantError::Invalid(format!(
                    "synonyms line {}: a group needs at least two words",
                    number + 1
                )));
            }
            for word in &group {
                // Every word of a group must come out of segmentation whole to be mapped.
                if word.chars().count() > 1 && !jieba.has_word(word) {
                    jieba.add_word(word, Some(3000), None);
                }
                map.insert(word.clone(), canonical.clone());
            }
        }
        Ok(Analyzer {
            jieba,
            synonyms: map,
            stop_words: STOP_WORDS.iter().copied().collect(),
        })
    }

    /// The analyzer of the starter knowledge base.
    pub fn starter() -> Self {
        Analyzer::new(STARTER_DICTIONARY, STARTER_SYNONYMS)
            .expect("the shipped dictionary and synonyms are valid")
    }

    /// jieba's own dictionary, no domain words, no synonyms, no stop words: the plain baseline.
    pub fn plain() -> Self {
        Analyzer {
            jieba: Jieba::new(),
            synonyms: HashMap::new(),
            stop_words: HashSet::new(),
        }
    }

    /// The canonical word for `word` (itself when it has no synonyms).
    pub fn canonical<'a>(&'a self, word: &'a str) -> &'a str {
        self.synonyms.get(word).map_or(word, String::as_str)
    }

    /// `text` normalised, segmented, mapped to canonical words, with its bigrams.
    pub fn analyze(&self, text: &str) -> Analyzed {
        let normalized = normalize(text);
        let mut words = Vec::new();
        let mut canonical_text = String::with_capacity(normalized.len());
        for token in self.jieba.cut(&normalized, true) {
            let token = token.trim();
            if token.is_empty() || !token.chars().any(char::is_alphanumeric) {
                canonical_text.push(' ');
                continue;
            }
            let word = self.canonical(token);
            canonical_text.push_str(word);
            if !self.stop_words.contains(word) {
                words.push(word.to_owned());
            }
        }
        Analyzed {
            words,
            grams: grams(&canonical_text),
        }
    }

    /// Keywords of `text` for mining: canonical words of two or more characters (or Latin and
    /// digit words of two or more), stop words and question words left out, each once.
    pub fn keywords(&self, text: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        self.analyze(text)
            .words
            .into_iter()
            .filter(|word| word.chars().count() >= 2 && !QUESTION_WORDS.contains(&word.as_str()))
            .filter(|word| seen.insert(word.clone()))
            .collect()
    }
}

/// Words that ask rather than say what about; never a topic.
const QUESTION_WORDS: &[&str] = &[
    "怎么",
    "怎么办",
    "怎样",
    "如何",
    "什么",
    "哪些",
    "哪里",
    "哪儿",
    "多少",
    "多久",
    "几天",
    "可以",
    "能否",
    "能不能",
    "可不可以",
    "是否",
    "是不是",
    "为什么",
    "需要",
    "什么样",
    "办理",
    "一般",
    "现在",
    "已经",
    "没有",
    "还是",
    "如果",
    "然后",
    "时候",
    "的话",
    "有没有",
    "应该",
];

/// Character bigrams of every run of Chinese characters (a single character alone), and every
/// run of Latin letters or digits whole.
fn grams(text: &str) -> Vec<String> {
    let mut grams = Vec::new();
    let mut han: Vec<char> = Vec::new();
    let mut latin = String::new();
    let flush_han = |han: &mut Vec<char>, grams: &mut Vec<String>| {
        match han.len() {
            0 => {}
            1 => grams.push(han[0].to_string()),
            _ => grams.extend(han.windows(2).map(|pair| pair.iter().collect())),
        }
        han.clear();
    };
    for character in text.chars() {
        if is_han(character) {
            if !latin.is_empty() {
                grams.push(std::mem::take(&mut latin));
            }
            han.push(character);
        } else if character.is_alphanumeric() {
            flush_han(&mut han, &mut grams);
            latin.push(character);
        } else {
            flush_han(&mut han, &mut grams);
            if !latin.is_empty() {
                grams.push(std::mem::take(&mut latin));
            }
        }
    }
    flush_han(&mut han, &mut grams);
    if !latin.is_empty() {
        grams.push(latin);
    }
    grams
}

fn is_han(character: char) -> bool {
    matches!(character, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// NFKC (full-width letters, digits and punctuation become half-width), lower case, Chinese
/// numbers before a measure word written in digits (十二分 → 12分, 两条 → 2条), and every run
/// of punctuation or white space one space.
pub fn normalize(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let numbered = chinese_numbers(&folded);
    let mut out = String::with_capacity(numbered.len());
    let mut space = false;
    for character in numbered.chars() {
        if character.is_alphanumeric() {
            out.push(character);
            space = false;
        } else if !space && !out.is_empty() {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Measure words after which a Chinese number is a quantity, not part of a word (一下, 一样).
const MEASURES: &[char] = &[
    '分', '条', '年', '个', '月', '天', '岁', '元', '块', '次', '万', '倍', '日', '周', '笔', '张',
];

fn digit_value(character: char) -> Option<u64> {
    Some(match character {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn unit_value(character: char) -> Option<u64> {
    Some(match character {
        '十' => 10,
        '百' => 100,
        '千' => 1000,
        _ => return None,
    })
}

/// The value of a run of Chinese numerals below ten thousand (十二 = 12, 三百零五 = 305,
/// 一五 = 15 read digit by digit); `None` when it is not a number.
fn chinese_value(run: &[char]) -> Option<u64> {
    if run
        .iter()
        .all(|character| digit_value(*character).is_some())
    {
        return run.iter().try_fold(0u64, |value, character| {
            Some(value * 10 + digit_value(*character)?)
        });
    }
    let (mut total, mut digit) = (0u64, None::<u64>);
    for character in run {
        if let Some(value) = digit_value(*character) {
            digit = Some(value);
        } else if let Some(unit) = unit_value(*character) {
            total += digit.unwrap_or(1) * unit;
            digit = None;
        } else {
            return None;
        }
    }
    Some(total + digit.unwrap_or(0))
}

fn chinese_numbers(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < characters.len() {
        let start = index;
        while index < characters.len()
            && (digit_value(characters[index]).is_some() || unit_value(characters[index]).is_some())
        {
            index += 1;
        }
        if index > start {
            let run = &characters[start..index];
            let before_measure = characters
                .get(index)
                .is_some_and(|next| MEASURES.contains(next));
            match chinese_value(run).filter(|_| before_measure) {
                Some(value) => out.push_str(&value.to_string()),
                None => out.extend(run),
            }
        } else {
            out.push(characters[index]);
            index += 1;
        }
    }
    out
}

/// `text` with what could identify a person masked before it is stored or mined: every run of
/// six or more digits (an id number, a phone, a card; a trailing `X` of an id counts) keeps only
/// its first three and last two digits when it has eleven or more, else its last two; a plate
/// keeps its province, letter and last two characters.
pub fn redact(text: &str) -> String {
    let mut masked = text.to_owned();
    while let Some(plate) = crate::intent::find_plate(&masked.replace(['·', ' '], "")) {
        let visible: Vec<char> = plate.chars().collect();
        let hidden = format!(
            "{}{}{}{}",
            visible[0],
            visible[1],
            "*".repeat(visible.len() - 4),
            visible[visible.len() - 2..].iter().collect::<String>()
        );
        // Find the plate as typed (any case, optional `·`) and replace it.
        let Some((start, end)) = locate_plate(&masked, &plate) else {
            break;
        };
        masked.replace_range(start..end, &hidden);
    }
    let characters: Vec<char> = masked.chars().collect();
    let mut out = String::with_capacity(masked.len());
    let mut index = 0;
    while index < characters.len() {
        let start = index;
        while index < characters.len()
            && (characters[index].is_ascii_digit()
                || (index > start && index - start >= 14 && matches!(characters[index], 'x' | 'X')))
        {
            index += 1;
        }
        let run = &characters[start..index];
        if run.len() >= 6 {
            let (head, tail) = if run.len() >= 11 { (3, 2) } else { (0, 2) };
            out.extend(&run[..head]);
            out.extend(std::iter::repeat_n('*', run.len() - head - tail));
            out.extend(&run[run.len() - tail..]);
        } else {
            out.extend(run);
        }
        if index == start {
            out.push(characters[index]);
            index += 1;
        }
    }
    out
}

/// Byte range of `plate` (upper case, no `·`) in `text`, typed with any case and an optional `·`.
fn locate_plate(text: &str, plate: &str) -> Option<(usize, usize)> {
    let wanted: Vec<char> = plate.chars().collect();
    let indices: Vec<(usize, char)> = text.char_indices().collect();
    for begin in 0..indices.len() {
        let (mut matched, mut position) = (0, begin);
        while matched < wanted.len() && position < indices.len() {
            let character = indices[position].1;
            if character == '·' && matched == 2 {
                position += 1;
                continue;
            }
            if character.to_ascii_uppercase() != wanted[matched] {
                break;
            }
            matched += 1;
            position += 1;
        }
        if matched == wanted.len() {
            let end = indices.get(position).map_or(text.len(), |(byte, _)| *byte);
            return Some((indices[begin].0, end));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_width_case_punctuation_and_numbers() {
        assert_eq!(normalize("ＡＰＰ里怎么查？？１２３"), "app里怎么查 123");
        assert_eq!(
            normalize("扣了十二分，还有两条违章"),
            "扣了12分 还有2条违章"
        );
        assert_eq!(normalize("交了三百零五元"), "交了305元");
        assert_eq!(normalize("看一下，一样吗"), "看一下 一样吗");
        assert_eq!(normalize("  QR码!  "), "qr码");
    }

    #[test]
    fn synonyms_map_to_one_word() {
        let analyzer = Analyzer::starter();
        let long = analyzer.analyze("住房公积金怎么提取");
        let short = analyzer.analyze("公积金怎么取出来");
        assert!(long.words.contains(&"公积金".to_owned()), "{long:?}");
        assert!(short.words.contains(&"公积金".to_owned()), "{short:?}");
        assert!(long.words.contains(&"提取".to_owned()), "{long:?}");
        assert!(short.words.contains(&"提取".to_owned()), "{short:?}");
        let fine = analyzer.analyze("我的罚单在哪交");
        assert!(fine.words.contains(&"罚款".to_owned()), "{fine:?}");
        assert!(!fine.words.contains(&"我".to_owned()));
    }

    #[test]
    fn bigrams_cover_unknown_words() {
        let analyzer = Analyzer::starter();
        let analyzed = analyzer.analyze("社保卡APP扫码");
        assert!(analyzed.grams.contains(&"app".to_owned()), "{analyzed:?}");
        assert!(analyzed.grams.contains(&"扫码".to_owned()), "{analyzed:?}");
        assert_eq!(grams("码"), vec!["码".to_owned()]);
    }

    #[test]
    fn redaction_masks_ids_phones_cards_and_plates() {
        assert_eq!(
            redact("我的身份证510104199001011234查公积金"),
            "我的身份证510*************34查公积金"
        );
        assert_eq!(
            redact("手机13812345678，卡号6222021234567890123"),
            "手机138******78，卡号622**************23"
        );
        assert_eq!(redact("车牌川a·12345有违章吗"), "车牌川A***45有违章吗");
        assert_eq!(
            redact("罚款200元，扣3分，2025年"),
            "罚款200元，扣3分，2025年"
        );
        assert_eq!(
            redact("身份证号51010419900101123X"),
            "身份证号510*************3X"
        );
    }

    #[test]
    fn keywords_leave_out_question_words() {
        let analyzer = Analyzer::starter();
        let keywords = analyzer.keywords("租房怎么提取住房公积金，需要什么材料");
        assert!(keywords.contains(&"租房".to_owned()), "{keywords:?}");
        assert!(keywords.contains(&"公积金".to_owned()), "{keywords:?}");
        assert!(!keywords.contains(&"怎么".to_owned()));
        assert!(!keywords.contains(&"需要".to_owned()));
    }
}
