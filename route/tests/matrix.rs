//! The fixture pack against the research matrix (research note, section 2): every cell of the
//! modelled states, status and verified flag exactly as the matrix marks them ("*" =
//! unverified). A reviewer who changes a cell changes this table too, on purpose.

mod common;

use shared::Category;

const MATRIX: &[(&str, &str)] = &[
    // prov glor recr instr trn_r travel fin threat poss extr sep hate
    ("US", "P* N* P* P* P* C* C* C* N* N* N* N*"),
    ("GB", "C* C  C  C* C  C* C* C* C  N* N* C*"),
    ("FR", "C* C* C* C* C* C* C* C* P* N* N* C*"),
    ("DE", "C* C  C* C  C* C* C* C* P* P* N* C*"),
    ("ES", "C* C  C* C* C  C  C* C* C  N* N* C*"),
    ("RU", "C  C  C* C* C* C* C* C* P* C* C* P*"),
    ("CN", "C  C  C* C* C* C  C  C* C  C  C* C*"),
    ("PK", "C* C  C  P* P* P* C* C* P* P* C* C"),
    ("IN", "C* P  C* C* C* C* C* C* N* N* C* C*"),
    ("KZ", "C* C* C* C* P* C  C  C* P* C  C  C"),
    ("TR", "C* C  C* P* P* P* C* C* P* P* C  C*"),
    ("UZ", "C* C  C* C* C  C  C  C* C  C  C  C"),
    ("KG", "C* C* C* C* P* C* C* C* C  C  C* C*"),
    ("TJ", "C  C  C* C* C* C* C* C* P* C  C* C*"),
    ("IR", "C* P  C  P* P* P* C* C* U  C  C* C*"),
    // Not a row of the matrix: the Union-level minimum of section 1 (Directive 2017/541 and the
    // TCO Regulation, verified; FD 2008/913/JHA for hate, unverified; no Union-level offence
    // for possession, extremism or separatism).
    ("EU", "C  P  C  C  C  C  C  C  N* N* N* C*"),
];

#[test]
fn fixture_cells_match_the_research_matrix() {
    let pack = common::pack();
    // Every state of the matrix and the Union as a block: sixteen.
    assert_eq!(MATRIX.len(), 16);
    let mut wrong = Vec::new();
    for (code, row) in MATRIX {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 12, "{code}: row must have 12 cells");
        for (cat, want) in Category::ALL.iter().zip(cells) {
            let Some(cell) = pack.cell(code, *cat) else {
                wrong.push(format!("{code} {cat}: missing"));
                continue;
            };
            // "U" carries no star in the matrix: an unknown cell is neither verified nor not.
            let star = !cell.verified && cell.status.as_str() != "U";
            let got = format!("{}{}", cell.status.as_str(), if star { "*" } else { "" });
            if got != want {
                wrong.push(format!("{code} {cat}: {got}, research says {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn uk_is_stored_as_gb_and_platform_hosts_resolve() {
    let pack = common::pack();
    assert!(
        pack.jurisdiction_known("UK")
            && pack.jurisdiction_known("gb")
            && !pack.jurisdiction_known("BR")
    );
    assert_eq!(pack.jurisdiction_name("uk"), Some("United Kingdom"));
    let id = |h: &str| pack.platform_for_host(h).map(|p| p.id);
    assert_eq!(id("video.example.test").as_deref(), Some("examplevideo"));
    assert_eq!(
        id("WWW.Video.Example.Test.").as_deref(),
        Some("examplevideo")
    );
    assert_eq!(id("cdn.paste.example").as_deref(), Some("examplepaste"));
    assert_eq!(
        id("evilvideo.example.test"),
        None,
        "suffix must follow a dot"
    );
    assert_eq!(id("example.test"), None);
    assert_eq!(
        pack.platform("examplechat")
            .unwrap()
            .legal_representative
            .as_deref(),
        Some("NL")
    );
    assert!(pack.platform("nosuch").is_none());
    assert_eq!(pack.rules_version(), "legal-2025.2");
}
