//! Who works where: employer number → the people it employs, for the social-insurance
//! bureau's `si.employer.staff`.
//!
//! People are generated on demand, so finding an employer's staff means looking at everyone
//! once. [`StaffIndex::build`] does that in one pass, generating each person only up to
//! their employment, and keeps per employer the *serials* of its staff (the index of a
//! generated person, `size + k` for the `k`-th named resident) in the order the bureau lists
//! them: by masked resident id, then masked name, then serial. The population builds it on
//! first use and keeps it (see [`Population::staff_count`](super::Population::staff_count)).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use bianmin_core::ResidentId;
use bianmin_core::mask::mask_name;

use super::Population;

/// The part of a resident id its masked form shows: the first six and the last four
/// characters. Every id has 18 characters and the stars sit in the same places, so ordering
/// these orders the masked ids.
type ShownId = [u8; 10];

fn shown_id(id: &ResidentId) -> ShownId {
    let bytes = id.as_str().as_bytes();
    let mut shown = [b'*'; 10];
    // A parsed id has 18 ASCII characters.
    if bytes.len() == 18 {
        shown[..6].copy_from_slice(&bytes[..6]);
        shown[6..].copy_from_slice(&bytes[14..]);
    }
    shown
}

/// Employer number → serials of its staff, in listing order.
#[derive(Clone)]
pub(crate) struct StaffIndex {
    by_employer: Vec<Vec<u32>>,
}

impl StaffIndex {
    /// One pass over `population`: every generated person whose employment's employer is an
    /// employer, and every named resident whose template's is.
    pub(crate) fn build(population: &Population) -> Self {
        let size = population.size();
        let mut named_by_template: HashMap<u32, Vec<u32>> = HashMap::new();
        for (position, resident) in population.residents().iter().enumerate() {
            // At most a million named residents: positions fit.
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            named_by_template
                .entry(resident.template)
                .or_default()
                .push(position);
        }
        let mut lists: Vec<Vec<(ShownId, u32)>> = vec![Vec::new(); population.employers().len()];
        for index in 0..size {
            let beginning = population.beginning(index);
            let Some(list) = beginning
                .employment
                .employer
                .and_then(|number| lists.get_mut(usize::from(number)))
            else {
                continue;
            };
            list.push((shown_id(&beginning.slot.resident_id()), index));
            for &position in named_by_template.get(&index).into_iter().flatten() {
                if let Some(resident) = population.residents().get(position as usize) {
                    list.push((shown_id(&resident.resident_id), size + position));
                }
            }
        }
        let by_employer = lists
            .into_iter()
            .map(|mut list| {
                list.sort_unstable();
                // Equal masked ids (a few per thousand people): order by masked name, then
                // serial. Names are generated again only for these.
                for run in list.chunk_by_mut(|a, b| a.0 == b.0) {
                    if run.len() > 1 {
                        run.sort_by_cached_key(|&(_, serial)| {
                            (mask_name(&population.name_of_serial(serial)), serial)
                        });
                    }
                }
                list.into_iter().map(|(_, serial)| serial).collect()
            })
            .collect();
        Self { by_employer }
    }

    /// The serials of employer `number`'s staff, in listing order; empty for an unknown
    /// number.
    pub(crate) fn staff(&self, number: u16) -> &[u32] {
        self.by_employer
            .get(usize::from(number))
            .map_or(&[], Vec::as_slice)
    }

    /// Number of entries, all employers together.
    fn len(&self) -> usize {
        self.by_employer.iter().map(Vec::len).sum()
    }
}

/// The staff index, built on first use and kept.
#[derive(Clone, Default)]
pub(crate) struct LazyStaff(OnceLock<StaffIndex>);

impl LazyStaff {
    pub(crate) fn get_or_build(&self, population: &Population) -> &StaffIndex {
        self.0.get_or_init(|| StaffIndex::build(population))
    }

    pub(crate) fn is_built(&self) -> bool {
        self.0.get().is_some()
    }
}

impl fmt::Debug for LazyStaff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get() {
            Some(index) => write!(f, "StaffIndex({} entries)", index.len()),
            None => f.write_str("StaffIndex(not built)"),
        }
    }
}
