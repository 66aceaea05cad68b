//! Small-cell suppression: no figure that describes fewer than [`MIN_PEOPLE`] people is shown.

/// The fewest people a shown cell may describe.
pub const MIN_PEOPLE: u64 = 5;

/// Whether a cell of `events` events about `people` distinct people (when the events name
/// them) may be shown. Without people, the events bound them from above: fewer than five events
/// cannot be five people.
pub fn may_show(events: u64, people: Option<u64>) -> bool {
    events >= MIN_PEOPLE && people.is_none_or(|people| people >= MIN_PEOPLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_of_fewer_than_five_people_are_suppressed() {
        assert!(!may_show(4, None));
        assert!(may_show(5, None));
        assert!(!may_show(100, Some(4)), "many uses by four people");
        assert!(may_show(100, Some(5)));
        assert!(!may_show(0, Some(0)));
    }
}
