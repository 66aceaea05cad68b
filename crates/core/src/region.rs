//! Administrative divisions (GB/T 2260) that the platform needs to name.
//!
//! Only two tables are kept: the province-level codes, which every [`ResidentId`] must
//! start with, and Chengdu's twenty county-level divisions, the bank's service area.
//!
//! [`ResidentId`]: crate::ResidentId

use serde::Serialize;

/// A county-level division of Chengdu (区, 县 or 县级市).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct District {
    /// Six-digit GB/T 2260 code, e.g. `"510104"`; also the first six digits of a resident id
    /// issued there.
    pub code: &'static str,
    /// Official name, e.g. `"锦江区"`.
    pub name: &'static str,
}

const fn district(code: &'static str, name: &'static str) -> District {
    District { code, name }
}

/// Chengdu's county-level divisions with their current codes, in code order.
///
/// Codes are the current ones: 郫都区 (formerly 郫县, 510124), 双流区 (formerly 双流县,
/// 510122), 新津区 (formerly 新津县, 510132) and 简阳市 (transferred from 资阳) no longer
/// appear under their old codes, although resident ids issued before the change still carry
/// them.
pub static CHENGDU_DISTRICTS: [District; 20] = [
    district("510104", "锦江区"),
    district("510105", "青羊区"),
    district("510106", "金牛区"),
    district("510107", "武侯区"),
    district("510108", "成华区"),
    district("510112", "龙泉驿区"),
    district("510113", "青白江区"),
    district("510114", "新都区"),
    district("510115", "温江区"),
    district("510116", "双流区"),
    district("510117", "郫都区"),
    district("510118", "新津区"),
    district("510121", "金堂县"),
    district("510129", "大邑县"),
    district("510131", "蒲江县"),
    district("510181", "都江堰市"),
    district("510182", "彭州市"),
    district("510183", "邛崃市"),
    district("510184", "崇州市"),
    district("510185", "简阳市"),
];

/// Looks up a Chengdu district by its six-digit code; `None` for codes outside Chengdu or no
/// longer in use.
pub fn district_by_code(code: &str) -> Option<&'static District> {
    CHENGDU_DISTRICTS
        .iter()
        .find(|district| district.code == code)
}

static PROVINCES: [(&str, &str); 34] = [
    ("11", "北京市"),
    ("12", "天津市"),
    ("13", "河北省"),
    ("14", "山西省"),
    ("15", "内蒙古自治区"),
    ("21", "辽宁省"),
    ("22", "吉林省"),
    ("23", "黑龙江省"),
    ("31", "上海市"),
    ("32", "江苏省"),
    ("33", "浙江省"),
    ("34", "安徽省"),
    ("35", "福建省"),
    ("36", "江西省"),
    ("37", "山东省"),
    ("41", "河南省"),
    ("42", "湖北省"),
    ("43", "湖南省"),
    ("44", "广东省"),
    ("45", "广西壮族自治区"),
    ("46", "海南省"),
    ("50", "重庆市"),
    ("51", "四川省"),
    ("52", "贵州省"),
    ("53", "云南省"),
    ("54", "西藏自治区"),
    ("61", "陕西省"),
    ("62", "甘肃省"),
    ("63", "青海省"),
    ("64", "宁夏回族自治区"),
    ("65", "新疆维吾尔自治区"),
    ("71", "台湾省"),
    ("81", "香港特别行政区"),
    ("82", "澳门特别行政区"),
];

/// Name of the province-level division with the given two-digit code, e.g. `"51"` →
/// `"四川省"`; `None` for any other string.
pub fn province_name(code: &str) -> Option<&'static str> {
    PROVINCES
        .iter()
        .find(|(province, _)| *province == code)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chengdu_district_is_found_by_its_code() {
        for district in &CHENGDU_DISTRICTS {
            assert_eq!(district_by_code(district.code), Some(district));
            assert!(district.code.starts_with("5101"), "{district:?}");
        }
        assert_eq!(district_by_code("510104").map(|d| d.name), Some("锦江区"));
        assert_eq!(district_by_code("510185").map(|d| d.name), Some("简阳市"));
    }

    #[test]
    fn retired_and_foreign_codes_are_not_chengdu_districts() {
        for code in [
            "510124", "510122", "510132", "110105", "5101", "", "5101040",
        ] {
            assert_eq!(district_by_code(code), None, "{code}");
        }
    }

    #[test]
    fn district_codes_are_unique_and_sorted() {
        assert!(CHENGDU_DISTRICTS.windows(2).all(|w| w[0].code < w[1].code));
    }

    #[test]
    fn province_names_cover_exactly_the_issued_codes() {
        let issued = (11..=15)
            .chain(21..=23)
            .chain(31..=37)
            .chain(41..=46)
            .chain(50..=54)
            .chain(61..=65)
            .chain([71, 81, 82]);
        for code in issued.clone() {
            assert!(province_name(&code.to_string()).is_some(), "{code}");
        }
        let issued: Vec<u32> = issued.collect();
        for code in (0..100).filter(|code| !issued.contains(code)) {
            assert_eq!(province_name(&format!("{code:02}")), None, "{code}");
        }
        assert_eq!(province_name("51"), Some("四川省"));
        assert_eq!(province_name("5"), None);
    }

    #[test]
    fn district_serialises_as_code_and_name() {
        let json = serde_json::to_string(&CHENGDU_DISTRICTS[0]).unwrap();
        assert_eq!(json, r#"{"code":"510104","name":"锦江区"}"#);
    }
}
