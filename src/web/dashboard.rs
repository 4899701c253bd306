//! The dashboard's figures, computed in SQL over the cases a principal may see (its
//! [`Scope`], the same condition the store's case queries use) within a window of days: referrals per day, cases by language, by legal path (the decision's
//! targets), by jurisdiction routed to, by category, and by status. Read-only.

use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::{params_from_iter, Connection};
use std::collections::BTreeMap;

use crate::auth::Scope;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Referrals received per day (UTC), of visible cases.
    pub per_day: Vec<(NaiveDate, u64)>,
    /// Cases by detected language (`unknown` when none was detected or not yet classified).
    pub by_language: Vec<(String, u64)>,
    /// Cases by legal path of their decision's targets (a case with two paths counts in both).
    pub by_path: Vec<(String, u64)>,
    /// Cases by jurisdiction routed to.
    pub by_jurisdiction: Vec<(String, u64)>,
    pub by_category: Vec<(String, u64)>,
    pub by_status: Vec<(String, u64)>,
    pub cases: u64,
    pub referrals: u64,
}

/// Figures over visible cases created at or after `since` (RFC 3339 or a date), and referrals
/// received at or after it.
pub fn figures(conn: &Connection, scope: &Scope, since: &str) -> Result<Figures> {
    let mut args = vec![since.to_string()];
    let visible = scope.sql("c.id", "c.jurisdictions", &mut args);
    let cases_where = format!("c.created_at >= ?1 AND {visible}");
    let mut f = Figures::default();

    let mut stmt = conn.prepare(&format!(
        "SELECT substr(r.received_at, 1, 10) AS day, COUNT(*)
         FROM referrals r JOIN cases c ON c.id = r.case_id
         WHERE r.received_at >= ?1 AND {visible}
         GROUP BY day ORDER BY day"
    ))?;
    for row in stmt.query_map(params_from_iter(args.iter()), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (day, n) = row?;
        if let Ok(d) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            f.per_day.push((d, n as u64));
            f.referrals += n as u64;
        }
    }

    f.by_language = grouped(
        conn,
        &format!(
            "SELECT COALESCE(c.language, 'unknown'), COUNT(*) FROM cases c WHERE {cases_where} GROUP BY 1"
        ),
        &args,
    )?;
    f.by_status = grouped(
        conn,
        &format!("SELECT c.status, COUNT(*) FROM cases c WHERE {cases_where} GROUP BY 1"),
        &args,
    )?;
    f.cases = f.by_status.iter().map(|(_, n)| n).sum();
    f.by_path = grouped(
        conn,
        &format!(
            // (GROUP BY 1: json_each has a column named `path` of its own.)
            "SELECT json_extract(t.value, '$.path'), COUNT(DISTINCT c.id)
             FROM cases c, json_each(c.decision, '$.targets') t
             WHERE c.decision IS NOT NULL AND {cases_where} GROUP BY 1"
        ),
        &args,
    )?;
    // The comma-separated columns are split here rather than in SQL.
    let mut stmt = conn.prepare(&format!(
        "SELECT c.jurisdictions, c.categories FROM cases c WHERE {cases_where}"
    ))?;
    let mut jur: BTreeMap<String, u64> = BTreeMap::new();
    let mut cat: BTreeMap<String, u64> = BTreeMap::new();
    for row in stmt.query_map(params_from_iter(args.iter()), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (j, c) = row?;
        for x in j.split(',').filter(|x| !x.is_empty()) {
            *jur.entry(x.to_string()).or_default() += 1;
        }
        for x in c.split(',').filter(|x| !x.is_empty()) {
            *cat.entry(x.to_string()).or_default() += 1;
        }
    }
    f.by_jurisdiction = sorted(jur.into_iter().collect());
    f.by_category = sorted(cat.into_iter().collect());
    Ok(f)
}

/// The languages and jurisdictions found among the visible cases, for the case list's filters.
pub fn choices(conn: &Connection, scope: &Scope) -> Result<(Vec<String>, Vec<String>)> {
    let mut args = Vec::new();
    let visible = scope.sql("c.id", "c.jurisdictions", &mut args);
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT c.language FROM cases c WHERE c.language IS NOT NULL AND {visible} ORDER BY 1 LIMIT 200"
    ))?;
    let languages = stmt
        .query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT c.jurisdictions FROM cases c WHERE c.jurisdictions != ',' AND {visible} LIMIT 2000"
    ))?;
    let mut jur = std::collections::BTreeSet::new();
    for row in stmt.query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(0))? {
        for j in row?.split(',').filter(|x| !x.is_empty()) {
            jur.insert(j.to_string());
        }
    }
    Ok((languages, jur.into_iter().collect()))
}

fn grouped(conn: &Connection, sql: &str, args: &[String]) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, Option<String>>(0)?
                    .unwrap_or_else(|| "unknown".into()),
                r.get::<_, i64>(1)? as u64,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(sorted(rows))
}

/// Largest first, then by name.
fn sorted(mut v: Vec<(String, u64)>) -> Vec<(String, u64)> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::referral;
    use crate::store::{self, Store};
    use serde_json::json;

    #[test]
    fn figures_count_only_visible_cases() {
        let dir = std::env::temp_dir().join(format!("triage-dash-{}", uuid::Uuid::now_v7()));
        let s = Store::open(&dir).unwrap();
        s.call_sync(|c| {
            let a = store::insert_referrals(c, &[referral("r1", "http://a.example/1", "fr")])?;
            store::insert_referrals(c, &[referral("r2", "http://a.example/2", "de")])?;
            // A second referral of the first case, by the other agency.
            store::insert_referrals(c, &[referral("r3", "http://a.example/1", "de")])?;
            let decision = json!({"targets": [
                {"path": "removal_order", "jurisdiction": "FR"},
                {"path": "platform_referral", "jurisdiction": "FR"}
            ]});
            store::finish(c, "r1", &a[0].case_id, &decision, &["FR".to_string(), "IE".to_string()])?;
            c.execute(
                "UPDATE cases SET language = 'rus', categories = ',public_provocation,' WHERE id = ?1",
                [&a[0].case_id],
            )?;

            let all = figures(c, &Scope::All, "2000-01-01")?;
            assert_eq!((all.cases, all.referrals), (2, 3));
            assert_eq!(all.by_language, vec![("rus".into(), 1), ("unknown".into(), 1)]);
            assert_eq!(
                all.by_path,
                vec![("platform_referral".into(), 1), ("removal_order".into(), 1)]
            );
            assert_eq!(all.by_jurisdiction, vec![("FR".into(), 1), ("IE".into(), 1)]);
            assert_eq!(all.by_category, vec![("public_provocation".into(), 1)]);
            assert_eq!(all.per_day.iter().map(|d| d.1).sum::<u64>(), 3);

            // "fr" referred only the first case; "de" both.
            let own = |a: &str| Scope::OwnReferrals { agency: a.into() };
            let routed = |j: &str| Scope::Routed { jurisdiction: j.into() };
            let fr = figures(c, &own("fr"), "2000-01-01")?;
            assert_eq!((fr.cases, fr.referrals), (1, 2));
            let de = figures(c, &own("de"), "2000-01-01")?;
            assert_eq!(de.cases, 2);
            let ie = figures(c, &routed("IE"), "2000-01-01")?;
            assert_eq!(ie.cases, 1);
            let gb = figures(c, &routed("GB"), "2000-01-01")?;
            assert_eq!((gb.cases, gb.referrals), (0, 0));
            let either = Scope::Agency {
                agency: "nobody".into(),
                jurisdiction: "IE".into(),
            };
            assert_eq!(figures(c, &either, "2000-01-01")?.cases, 1);
            assert_eq!(figures(c, &Scope::None, "2000-01-01")?.cases, 0);
            // The window: nothing after the far future.
            assert_eq!(figures(c, &Scope::All, "2999-01-01")?.cases, 0);
            Ok(())
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
