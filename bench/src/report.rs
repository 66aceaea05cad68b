//! Printing figures: an aligned table for people, one JSON object per line for scripts.

use std::io::{self, Write};

use crate::figure::Figure;

/// Writes one JSON object per figure, one per line, keys in the documented order.
pub fn write_json_lines(out: &mut impl Write, figures: &[Figure]) -> io::Result<()> {
    for figure in figures {
        serde_json::to_writer(&mut *out, figure)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes an aligned table with the columns suite, name, value, unit, baseline, ratio; numbers
/// are right-aligned and a missing baseline or ratio shows as `-`.
pub fn write_table(out: &mut impl Write, figures: &[Figure]) -> io::Result<()> {
    const HEADINGS: [&str; 6] = ["suite", "name", "value", "unit", "baseline", "ratio"];
    const RIGHT_ALIGNED: [bool; 6] = [false, false, true, false, true, true];
    let rows: Vec<[String; 6]> = figures
        .iter()
        .map(|f| {
            [
                f.suite.to_string(),
                f.name.clone(),
                format_number(f.value),
                f.unit.to_string(),
                f.baseline.map_or_else(|| "-".into(), format_number),
                f.ratio.map_or_else(|| "-".into(), |r| format!("{r:.3}")),
            ]
        })
        .collect();
    let mut widths = HEADINGS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headings = HEADINGS.map(String::from);
    for row in std::iter::once(&headings).chain(&rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            let width = widths[column];
            if RIGHT_ALIGNED[column] {
                line.push_str(&format!("{cell:>width$}"));
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Enough digits to compare runs by eye, whatever the magnitude: throughput in thousands needs
/// none after the point, sub-millisecond latencies need three.
fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::Figures;

    #[test]
    fn the_table_aligns_columns_and_marks_missing_baselines() {
        let mut figures = Figures::new("http");
        figures.record("bare.rps", 20000.0, "req/s");
        figures.record_against("me_db_read.p99_ms", 4.25, "ms", 1.7);
        let mut out = Vec::new();
        write_table(&mut out, &figures.into_vec()).expect("writing to a Vec cannot fail");
        let table = String::from_utf8(out).expect("the table is UTF-8");
        assert_eq!(
            table,
            "suite  name               value  unit   baseline  ratio\n\
             http   bare.rps           20000  req/s         -      -\n\
             http   me_db_read.p99_ms  4.250  ms        1.700  2.500\n"
        );
    }
}
