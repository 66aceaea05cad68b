//! Generates a population and prints how fast, and what it looks like.
//!
//! `cargo run --release -p bianmin-govsim --example population -- [size] [seed]`
//! (defaults: 1,000,000 people, seed 20261129).

use std::collections::BTreeMap;
use std::time::Instant;

use bianmin_govsim::Population;
use bianmin_govsim::population::EmploymentStatus;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_261_129);

    let started = Instant::now();
    let population = Population::new(seed, size);
    let setup = started.elapsed();

    let started = Instant::now();
    let mut pd_sum = 0.0;
    let mut statuses: BTreeMap<String, u32> = BTreeMap::new();
    let mut dishonest = (0u32, 0.0f64);
    let mut overdue = 0u32;
    let mut with_fund = 0u32;
    let mut with_car = 0u32;
    let mut income_sum = 0.0;
    let mut employed = 0u32;
    for index in 0..size {
        let person = population.person(index);
        pd_sum += person.true_pd();
        *statuses
            .entry(format!("{:?}", person.employment.status))
            .or_default() += 1;
        if person.court.is_dishonest() {
            dishonest.0 += 1;
            dishonest.1 += person.true_pd();
        }
        overdue += u32::from(person.credit.overdue_days > 0);
        with_fund += u32::from(person.housing_fund.is_some());
        with_car += u32::from(!person.traffic.vehicles.is_empty());
        if person.employment.status == EmploymentStatus::Employed {
            employed += 1;
            income_sum += person.employment.monthly_income.fen() as f64 / 100.0;
        }
    }
    let elapsed = started.elapsed();
    let rate = f64::from(size) / elapsed.as_secs_f64();
    println!("population: {size} people, seed {seed}");
    println!(
        "setup (employers, distributors): {:.1} ms",
        setup.as_secs_f64() * 1e3
    );
    println!(
        "generated {size} people in {:.2} s: {:.0} people/s ({:.2} µs each)",
        elapsed.as_secs_f64(),
        rate,
        1e6 / rate
    );
    let n = f64::from(size);
    println!("mean pd: {:.2} %", 100.0 * pd_sum / n);
    println!(
        "失信: {:.2} % of people, their mean pd {:.1} %",
        100.0 * f64::from(dishonest.0) / n,
        100.0 * dishonest.1 / f64::from(dishonest.0.max(1))
    );
    println!("currently overdue: {:.2} %", 100.0 * f64::from(overdue) / n);
    println!(
        "housing-fund account: {:.1} %",
        100.0 * f64::from(with_fund) / n
    );
    println!("own a vehicle: {:.1} %", 100.0 * f64::from(with_car) / n);
    println!(
        "mean monthly wage of employees: {:.0} yuan",
        income_sum / f64::from(employed.max(1))
    );
    for (status, count) in statuses {
        println!("  {status:<13} {:.1} %", 100.0 * f64::from(count) / n);
    }

    // How well could a scorecard do? The true pd is the ceiling; a hand-made score from the
    // visible records shows the gap a trained model has to close.
    let sample = 200_000.min(size);
    let mut truth = Vec::with_capacity(sample as usize);
    let mut visible = Vec::with_capacity(sample as usize);
    for index in 0..sample {
        let person = population.person(index);
        let defaulted = population.draw_default(index, 12);
        let naive = person.debt_to_income()
            + if person.credit.overdue_days > 0 {
                2.0
            } else {
                0.0
            }
            + 0.5 * f64::from(person.credit.worst_status().min(4))
            + if person.court.is_dishonest() {
                2.0
            } else {
                0.0
            }
            + 0.1 * f64::from(person.credit.inquiries_6m.min(10));
        truth.push((person.true_pd(), defaulted));
        visible.push((naive, defaulted));
    }
    let defaults = truth.iter().filter(|(_, d)| *d).count();
    println!(
        "12-month defaults drawn: {defaults} of {sample} ({:.2} %)",
        100.0 * defaults as f64 / f64::from(sample)
    );
    println!("AUC of the true pd (the ceiling): {:.3}", auc(&mut truth));
    println!(
        "AUC of a naive score from visible records: {:.3}",
        auc(&mut visible)
    );

    let started = Instant::now();
    let probes = 100_000.min(size);
    let mut found = 0;
    for index in (0..probes).map(|i| (u64::from(i) * 7_919 % u64::from(size)) as u32) {
        let id = population.person(index).resident_id;
        found += u32::from(population.index_of(&id) == Some(index));
    }
    println!(
        "index_of inverted {found}/{probes} ids ({:.2} µs per person + lookup)",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(probes)
    );

    // What the first `si.employer.staff` request costs: the staff index, one pass.
    let started = Instant::now();
    population.build_staff_index();
    let elapsed = started.elapsed();
    let largest = population
        .employers()
        .iter()
        .map(|employer| population.staff_count(employer.number))
        .max()
        .unwrap_or(0);
    println!(
        "staff index: {:.2} s ({:.2} µs per person); largest employer {largest} staff",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(size)
    );
}

/// Area under the ROC curve: the probability that a random defaulter scores above a random
/// non-defaulter (ties count half).
fn auc(scored: &mut [(f64, bool)]) -> f64 {
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut positives) = (0.0, 0.0);
    let mut start = 0;
    while start < scored.len() {
        let mut end = start;
        while end < scored.len() && scored[end].0 == scored[start].0 {
            end += 1;
        }
        // Tied scores share the mean of their 1-based ranks.
        let rank = (start + end + 1) as f64 / 2.0;
        for item in &scored[start..end] {
            if item.1 {
                rank_sum += rank;
                positives += 1.0;
            }
        }
        start = end;
    }
    let negatives = scored.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}
