//! How the admin commands print: aligned tables and `label  value` records for people (columns
//! by display width, so wide characters line up), or the server's JSON as it came with
//! `--output json`. Control characters never reach the terminal.

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

use crate::Output;

/// A column of a table: its heading and how to read its cell from a row.
pub struct Column<T> {
    pub heading: &'static str,
    pub cell: fn(&T) -> String,
}

/// A labelled line of a record: the label and how to read the value.
pub type Field<T> = (&'static str, fn(&T) -> String);

/// `yes` or `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// An optional value's text; empty when absent.
pub fn or_empty<V: ToString>(v: &Option<V>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// A list, comma-separated.
pub fn list<V: ToString>(values: &[V]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn json(raw: &Value) {
    println!("{}", serde_json::to_string_pretty(raw).unwrap_or_default());
}

/// The rows as an aligned table (or the JSON, with `--output json`).
pub fn table<T>(output: Output, raw: &Value, rows: &[T], columns: &[Column<T>]) {
    if output == Output::Json {
        return json(raw);
    }
    println!("{}", render_table(rows, columns));
    if rows.is_empty() {
        println!("(none)");
    }
}

fn render_table<T>(rows: &[T], columns: &[Column<T>]) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|c| c.heading));
    for row in rows {
        table.add_row(columns.iter().map(|c| clean((c.cell)(row))));
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One record as `label  value` lines, empty values left out (or the JSON).
pub fn record<T>(output: Output, raw: &Value, value: &T, fields: &[Field<T>]) {
    if output == Output::Json {
        return json(raw);
    }
    let rows: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, cell)| (*label, clean(cell(value))))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let columns = [
        Column {
            heading: "",
            cell: |r: &(&str, String)| r.0.to_owned(),
        },
        Column {
            heading: "",
            cell: |r: &(&str, String)| r.1.clone(),
        },
    ];
    let text = render_table(&rows, &columns);
    // The first line is the (empty) heading.
    for line in text.lines().skip(1) {
        println!("{line}");
    }
}

/// Control characters out of a cell: a name cannot move the terminal's cursor, nor reorder
/// the rest of the line (bidirectional overrides and isolates) or break it (line and
/// paragraph separators).
fn clean(s: String) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
    };
    if s.chars().any(unsafe_char) {
        s.chars()
            .map(|c| if unsafe_char(c) { ' ' } else { c })
            .collect()
    } else {
        s
    }
}

/// Secrets shown once, with the warning that they will not be shown again.
pub fn secrets(output: Output, raw: &Value, pairs: &[(&str, &str)], warning: &str) {
    if output == Output::Json {
        return json(raw);
    }
    println!();
    let width = pairs.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in pairs {
        println!("{label:<width$}  {value}");
    }
    eprintln!("\nwarning: {warning}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_lose_control_characters() {
        assert_eq!(clean("a\u{1b}[2Jb".into()), "a [2Jb");
        assert_eq!(clean("Bidi \u{202e}evil\u{2028}x".into()), "Bidi  evil x");
        assert_eq!(yes_no(true), "yes");
        assert_eq!(or_empty::<String>(&None), "");
    }

    #[test]
    fn wide_characters_keep_the_columns_aligned() {
        let rows = [("東京 Tokyo", "a"), ("Zürich", "b"), ("x", "c")];
        let columns = [
            Column {
                heading: "NAME",
                cell: |r: &(&str, &str)| r.0.to_owned(),
            },
            Column {
                heading: "NEXT",
                cell: |r: &(&str, &str)| r.1.to_owned(),
            },
        ];
        let text = render_table(&rows, &columns);
        let starts: Vec<usize> = text
            .lines()
            .map(|line| {
                let cut = line.rfind(' ').map_or(0, |i| i + 1);
                // Display width of what comes before the second column.
                line[..cut]
                    .chars()
                    .map(|c| if c > '\u{2e80}' { 2 } else { 1 })
                    .sum()
            })
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] == w[1]),
            "{text}\n{starts:?}"
        );
        assert!(text.starts_with("NAME"), "{text}");
    }
}
