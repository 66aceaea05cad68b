use std::collections::BTreeMap;

use chrono::TimeZone;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.179 Mobile Safari/537.36";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const WECHAT: &str = "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap()
}

fn config() -> BehaviourConfig {
    BehaviourConfig {
        signed_classes: vec!["query".to_owned()],
        ..BehaviourConfig::default()
    }
}

fn tracker() -> BehaviourTracker {
    BehaviourTracker::new(config()).unwrap()
}

fn browser(user_agent: &str) -> ClientSignals {
    ClientSignals {
        user_agent: Some(user_agent.to_owned()),
        accept_language: true,
        webdriver: false,
        signed: true,
    }
}

fn python_requests() -> ClientSignals {
    ClientSignals {
        user_agent: Some("python-requests/2.31.0".to_owned()),
        accept_language: false,
        webdriver: false,
        signed: false,
    }
}

fn lookup(at: DateTime<Utc>, target: &str, outcome: Outcome, client: ClientSignals) -> Observation {
    Observation {
        at,
        class: "query".to_owned(),
        target: Some(target.to_owned()),
        outcome,
        client,
    }
}

/// A resident id from its first 17 digits, with the GB 11643 check character.
fn resident_id(first_seventeen: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first_seventeen
        .chars()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit.to_digit(10).unwrap() * weight)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first_seventeen}{check}")
}

fn signal_codes(assessment: &Assessment) -> Vec<&'static str> {
    assessment
        .evidence
        .iter()
        .map(|evidence| evidence.signal.code())
        .collect()
}

/// A script walking sequential resident ids every 100 ms, mostly finding nothing. Returns
/// the assessment that blocked it and how many requests that took.
fn enumerate_until_blocked(
    tracker: &BehaviourTracker,
    subject: &str,
    from: DateTime<Utc>,
) -> (Assessment, usize) {
    let mut at = from;
    for request in 1..=50 {
        let id = resident_id(&format!("11010119900307{:03}", 100 + request));
        let outcome = if request % 10 == 0 {
            Outcome::Ok
        } else {
            Outcome::NotFound
        };
        let assessment = tracker.observe(subject, lookup(at, &id, outcome, python_requests()));
        if assessment.level == Level::Block {
            return (assessment, request);
        }
        at += TimeDelta::milliseconds(100);
    }
    panic!("a scripted enumerator went 50 requests without a block");
}

#[test]
fn two_hundred_citizens_looking_up_their_own_records_are_never_challenged() {
    let tracker = tracker();
    let mut rng = StdRng::seed_from_u64(20_250_303);
    let digits = |rng: &mut StdRng, count: usize| -> String {
        (0..count)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    };
    let plate = |rng: &mut StdRng| -> String {
        const SERIAL: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        let serial: String = (0..5)
            .map(|_| char::from(SERIAL[rng.random_range(0..SERIAL.len())]))
            .collect();
        format!("川A{serial}")
    };
    let citizen_id = |rng: &mut StdRng| -> String {
        let district =
            ["510104", "510105", "510106", "510107", "510108", "510112"][rng.random_range(0..6)];
        let year = rng.random_range(1950..2006);
        let month = rng.random_range(1..=12);
        let day = rng.random_range(1..=28);
        resident_id(&format!(
            "{district}{year}{month:02}{day:02}{}",
            digits(rng, 3)
        ))
    };
    // A slip of one character in the serial part, which finds nothing.
    let typo = |rng: &mut StdRng, target: &str| -> String {
        let mut characters: Vec<char> = target.chars().collect();
        let position = characters.len() - 1 - rng.random_range(0..4);
        let slipped = char::from(b'0' + rng.random_range(0..10u8));
        characters[position] = if characters[position] == slipped {
            '0'
        } else {
            slipped
        };
        characters.into_iter().collect()
    };

    let mut final_levels: BTreeMap<Level, usize> = BTreeMap::new();
    let mut highest_score = 0;
    let mut observations = 0;
    for citizen in 0..200 {
        let subject = format!("session-{citizen}");
        let user_agent = [CHROME_ANDROID, SAFARI_IOS, WECHAT][citizen % 3];
        let own_id = citizen_id(&mut rng);
        let own_plate = plate(&mut rng);
        let family_plate = plate(&mut rng);
        let family_id = citizen_id(&mut rng);
        let mut at = start() + TimeDelta::seconds(rng.random_range(0..8 * 3600));
        let lookups = rng.random_range(2..=12);
        let mut level = Level::Normal;
        for _ in 0..lookups {
            let (target, outcome) = match rng.random_range(0..100) {
                0..40 => (own_plate.clone(), Outcome::Ok),
                40..62 => (own_id.clone(), Outcome::Ok),
                62..72 => (family_plate.clone(), Outcome::Ok),
                72..80 => (family_id.clone(), Outcome::Ok),
                80..88 => (typo(&mut rng, &own_plate), Outcome::NotFound),
                88..94 => (typo(&mut rng, &own_id), Outcome::Rejected),
                _ => (own_plate.clone(), Outcome::Error),
            };
            let assessment =
                tracker.observe(&subject, lookup(at, &target, outcome, browser(user_agent)));
            assert!(
                assessment.level < Level::Challenge,
                "citizen {citizen} was given {:?} at score {}: {:?}",
                assessment.level,
                assessment.score,
                assessment.evidence
            );
            highest_score = highest_score.max(assessment.score);
            level = assessment.level;
            observations += 1;
            // Reading the result and tapping again takes a person 2 to 40 seconds.
            at += TimeDelta::milliseconds(rng.random_range(2_000..40_000));
        }
        *final_levels.entry(level).or_default() += 1;
    }
    println!(
        "200 citizens, {observations} lookups: final levels {final_levels:?}, highest score {highest_score}"
    );
    assert!(
        tracker
            .recent_escalations()
            .iter()
            .all(|e| e.to < Level::Challenge)
    );
}

#[test]
fn a_scripted_enumerator_is_blocked_within_a_few_requests() {
    let tracker = tracker();
    let (assessment, requests) = enumerate_until_blocked(&tracker, "script", start());
    println!(
        "scripted enumerator blocked after {requests} requests at score {}: {:?}",
        assessment.score,
        signal_codes(&assessment)
    );
    assert!(requests <= 10, "took {requests} requests");
    for code in ["enumeration", "automation"] {
        assert!(signal_codes(&assessment).contains(&code), "no {code}");
    }
    assert_eq!(
        assessment.until,
        Some(
            start() + TimeDelta::milliseconds(100 * (requests as i64 - 1)) + TimeDelta::minutes(15)
        )
    );

    let escalations = tracker.recent_escalations();
    let steps: Vec<(Level, Level)> = escalations.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(
        steps,
        [
            (Level::Normal, Level::Challenge),
            (Level::Challenge, Level::Block)
        ],
        "the python-requests user agent alone asks for a challenge; behaviour blocks"
    );
    assert!(escalations.iter().all(|e| e.subject == "script"));
    assert_eq!(escalations[1].evidence, assessment.evidence);
}

#[test]
fn a_patient_browser_enumerator_is_challenged_by_breadth_and_enumeration() {
    let tracker = tracker();
    let mut rng = StdRng::seed_from_u64(7);
    let mut at = start();
    let mut challenged = None;
    for request in 1..=50 {
        let plate = format!("川A1{:04}", 2_000 + request);
        let outcome = if rng.random_range(0..3) == 0 {
            Outcome::NotFound
        } else {
            Outcome::Ok
        };
        let assessment = tracker.observe(
            "patient",
            lookup(at, &plate, outcome, browser(CHROME_ANDROID)),
        );
        if assessment.level >= Level::Challenge {
            challenged = Some((request, assessment));
            break;
        }
        // Three to nine seconds apart, as if typed.
        at += TimeDelta::milliseconds(rng.random_range(3_000..9_000));
    }
    let (requests, assessment) = challenged.expect("never challenged within 50 requests");
    println!(
        "patient enumerator challenged after {requests} requests at score {}: {:?}",
        assessment.score,
        signal_codes(&assessment)
    );
    let codes = signal_codes(&assessment);
    assert!(codes.contains(&"enumeration") && codes.contains(&"breadth"));
    assert!(!codes.contains(&"automation") && !codes.contains(&"regular_timing"));
}

#[test]
fn evidence_is_in_chinese_and_quotes_no_identifier() {
    let tracker = tracker();
    let (assessment, requests) = enumerate_until_blocked(&tracker, "script", start());
    for evidence in &assessment.evidence {
        assert!(
            evidence
                .detail
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{}",
            evidence.detail
        );
        for request in 1..=requests {
            let id = resident_id(&format!("11010119900307{:03}", 100 + request));
            assert!(!evidence.detail.contains(&id[10..]), "{}", evidence.detail);
        }
    }
    let json = serde_json::to_value(&tracker.recent_escalations()[1]).unwrap();
    assert_eq!(json["to"], "block");
    assert_eq!(json["evidence"][0]["signal"], "enumeration");
}

#[test]
fn machine_regular_timing_is_noticed_even_at_a_human_pace() {
    let tracker = tracker();
    let mut at = start();
    let mut assessment = Assessment::unseen();
    // The citizen's own plate every 5 seconds exactly: nothing broad, nothing failing.
    for _ in 0..12 {
        assessment = tracker.observe(
            "metronome",
            lookup(at, "川A12345", Outcome::Ok, browser(SAFARI_IOS)),
        );
        at += TimeDelta::seconds(5);
    }
    assert_eq!(signal_codes(&assessment), ["regular_timing"]);
    assert_eq!(assessment.score, 25);
    assert_eq!(assessment.level, Level::Normal);
}

#[test]
fn slow_delay_grows_with_the_score() {
    let tracker = tracker();
    // A tool's user agent alone: two thirds of the automation weight, 40 points.
    let client = ClientSignals {
        user_agent: Some("Go-http-client/1.1".to_owned()),
        accept_language: true,
        webdriver: false,
        signed: true,
    };
    let assessment = tracker.observe("go", lookup(start(), "川A12345", Outcome::Ok, client));
    assert_eq!(assessment.score, 40);
    assert_eq!(assessment.level, Level::Slow);
    // Halfway between 30 and 50: halfway between 0.5 s and 2 s.
    assert_eq!(assessment.delay, Duration::from_millis(1_250));
    assert_eq!(
        tracker.standing("go", start()).delay,
        Duration::from_millis(1_250)
    );
}

#[test]
fn a_block_holds_whatever_happens_and_doubles_for_repeat_offenders() {
    let tracker = tracker();
    let (assessment, _) = enumerate_until_blocked(&tracker, "script", start());
    let until = assessment.until.unwrap();

    // Good behaviour, an answered challenge or plain waiting lower nothing before the end.
    let later = until - TimeDelta::seconds(1);
    let calm = tracker.observe(
        "script",
        lookup(later, "川A12345", Outcome::Ok, browser(CHROME_ANDROID)),
    );
    assert_eq!((calm.level, calm.until), (Level::Block, Some(until)));
    assert_eq!(
        tracker.challenge_passed("script", later).level,
        Level::Block
    );
    assert_eq!(tracker.standing("script", later).level, Level::Block);
    let after = tracker.standing("script", until + TimeDelta::seconds(1));
    assert!(after.level < Level::Block, "{after:?}");

    let mut from = until + TimeDelta::seconds(1);
    let mut lengths = Vec::new();
    for _ in 0..8 {
        let (blocked, _) = enumerate_until_blocked(&tracker, "script", from);
        let end = blocked.until.unwrap();
        lengths.push((end - blocked.escalation.unwrap().at).num_minutes());
        from = end + TimeDelta::seconds(1);
    }
    assert_eq!(lengths, [30, 60, 120, 240, 480, 960, 1440, 1440]);

    // A day of good behaviour after the last block, and the next one is short again.
    let (blocked, _) = enumerate_until_blocked(&tracker, "script", from + TimeDelta::days(1));
    let end = blocked.until.unwrap();
    assert_eq!((end - blocked.escalation.unwrap().at).num_minutes(), 15);
}

#[test]
fn answering_a_challenge_lowers_to_slow_for_the_grace_period_but_keeps_the_window() {
    let tracker = BehaviourTracker::new(BehaviourConfig {
        challenge_grace: Duration::from_secs(120),
        ..config()
    })
    .unwrap();
    let mut at = start();
    let mut plates = (3_000..).map(|serial| format!("川A1{serial:04}"));
    let mut next_plate = || plates.next().unwrap();
    let mut assessment = Assessment::unseen();
    let mut jitter = 0;
    while assessment.level < Level::Challenge {
        assessment = tracker.observe(
            "patient",
            lookup(at, &next_plate(), Outcome::Ok, browser(WECHAT)),
        );
        jitter = (jitter + 1_370) % 3_000;
        at += TimeDelta::seconds(5) + TimeDelta::milliseconds(jitter);
    }
    let score = assessment.score;

    let passed = tracker.challenge_passed("patient", at);
    assert_eq!(passed.level, Level::Slow);
    assert_eq!(passed.score, score, "the window is kept");
    assert_eq!(passed.until, Some(at + TimeDelta::seconds(120)));
    assert_eq!(passed.delay, Duration::from_secs(2));

    // When the grace ends, the same window asks for a challenge again.
    let after_grace = tracker.standing("patient", at + TimeDelta::seconds(121));
    assert_eq!(after_grace.level, Level::Challenge);
    assert_eq!(
        after_grace.escalation.map(|e| (e.from, e.to)),
        Some((Level::Slow, Level::Challenge))
    );

    // A bot that pays and carries on, failing, is blocked even within the grace.
    tracker.challenge_passed("patient", at + TimeDelta::seconds(122));
    let mut at = at + TimeDelta::seconds(125);
    let mut level = Level::Slow;
    for _ in 0..12 {
        level = tracker
            .observe(
                "patient",
                lookup(at, &next_plate(), Outcome::NotFound, browser(WECHAT)),
            )
            .level;
        if level == Level::Block {
            break;
        }
        at += TimeDelta::seconds(6);
    }
    assert_eq!(level, Level::Block);
}

#[test]
fn the_least_recently_seen_subjects_are_forgotten_first() {
    let tracker = BehaviourTracker::new(BehaviourConfig {
        max_subjects: 32,
        ..config()
    })
    .unwrap();
    let at = start();
    tracker.observe(
        "first",
        lookup(at, "川A12345", Outcome::Ok, python_requests()),
    );
    assert_eq!(tracker.standing("first", at).level, Level::Challenge);
    for subject in 0..1_000 {
        tracker.observe(
            &format!("session-{subject}"),
            lookup(at, "川A12345", Outcome::Ok, browser(CHROME_ANDROID)),
        );
    }
    tracker.observe(
        "last",
        lookup(at, "川A12345", Outcome::Ok, python_requests()),
    );
    assert!(tracker.tracked_subjects() <= 32);
    assert_eq!(tracker.standing("first", at).level, Level::Normal);
    assert_eq!(tracker.standing("last", at).level, Level::Challenge);
}

#[test]
fn only_the_latest_escalations_are_kept() {
    let tracker = BehaviourTracker::new(BehaviourConfig {
        escalations_kept: 3,
        ..config()
    })
    .unwrap();
    for subject in ["a", "b", "c", "d", "e"] {
        tracker.observe(
            subject,
            lookup(start(), "川A12345", Outcome::Ok, python_requests()),
        );
    }
    let subjects: Vec<String> = tracker
        .recent_escalations()
        .into_iter()
        .map(|escalation| escalation.subject)
        .collect();
    assert_eq!(subjects, ["c", "d", "e"]);
}

#[test]
fn old_observations_leave_the_window() {
    let tracker = tracker();
    let (_, _) = enumerate_until_blocked(&tracker, "script", start());
    let much_later = start() + TimeDelta::hours(1);
    let assessment = tracker.standing("script", much_later);
    assert_eq!((assessment.score, assessment.level), (0, Level::Normal));
}

#[test]
fn unreasonable_configurations_are_refused() {
    let refused = |config: BehaviourConfig| BehaviourTracker::new(config).is_err();
    assert!(refused(BehaviourConfig {
        thresholds: Thresholds {
            slow: 50,
            challenge: 50,
            block: 80
        },
        ..config()
    }));
    assert!(refused(BehaviourConfig {
        window_observations: 4,
        ..config()
    }));
    assert!(refused(BehaviourConfig {
        block_for: Duration::ZERO,
        ..config()
    }));
    assert!(refused(BehaviourConfig {
        max_subjects: 0,
        ..config()
    }));
}

#[test]
fn debug_of_an_observation_hides_the_target() {
    let observation = lookup(
        start(),
        "110101199003071234",
        Outcome::Ok,
        browser(SAFARI_IOS),
    );
    assert!(!format!("{observation:?}").contains("110101199003071234"));
}
