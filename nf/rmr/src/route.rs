//! RMR route tables: the static table format of `RMR_SEED_RT` and of the routing manager.
//!
//! Records (one per line, fields separated by `|`, `#` starts a comment):
//!
//! ```text
//! newrt|start[|table-id]              begin a full table (replaces the active one at end)
//! rte|mtype[,sender..]|groups[|subid]  route mtype (and subid) to endpoint groups
//! mse|mtype[,sender..]|subid|groups    the same with the subid third
//! mse|mtype[,sender..]|subid|%meid     route by the message's meid (see mme_ar)
//! del|mtype[,sender..]|subid          remove an entry (in an update)
//! newrt|end[|count]                   apply the table (count: records expected)
//! updatert|start[|table-id] .. updatert|end[|count]   change entries of the active table
//! meid_map|start[|id], mme_ar|owner|meid meid.., mme_del|meid.., meid_map|end[|count]
//! ```
//!
//! `groups` is `ep,ep;ep,ep`: a message goes to one endpoint of each `;`-separated group,
//! round-robin over the `,`-separated endpoints of a group. An entry naming senders applies
//! only when one of them is this application (its `host:port` or `ip:port`); our own
//! address is removed from endpoint lists (RMR never sends to itself).
//!
//! Lookup follows librmr: `(mtype, sub_id)` first, then `(mtype, -1)`; a message with
//! sub_id -1 only matches entries without a subid.
//!
//! Unlike librmr, which skips bad records silently, a bad record is refused with its line
//! number and reason, and a table that does not reach its `end` record is never applied.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

use crate::frame::UNSET_SUBID;

/// Why a route table record was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RouteErrorKind {
    /// The first field is not a known record type.
    #[error("unknown record type {0:?}")]
    UnknownRecord(String),
    /// A record lacks fields.
    #[error("{record} needs at least {need} fields, has {have}")]
    MissingFields {
        /// Record type.
        record: &'static str,
        /// Fields needed.
        need: usize,
        /// Fields present.
        have: usize,
    },
    /// A message type, subscription id or count is not an integer.
    #[error("{field} {value:?} is not an integer")]
    BadNumber {
        /// Which field.
        field: &'static str,
        /// The text.
        value: String,
    },
    /// An endpoint is not `host:port`.
    #[error("endpoint {0:?} is not host:port")]
    BadEndpoint(String),
    /// An entry, delete or end record outside a `start` .. `end` block.
    #[error("{0} outside a table (no start record)")]
    OutsideTable(&'static str),
    /// `start` while another table was still open.
    #[error("table {0:?} not complete: a new start record arrived before its end")]
    NotComplete(String),
    /// The count in an end record differs from the records received.
    #[error("missing table records: expected {expected}, got {got}")]
    CountMismatch {
        /// Count in the end record.
        expected: usize,
        /// Records received.
        got: usize,
    },
    /// An update before any full table was applied.
    #[error("update before a full table")]
    UpdateBeforeFull,
    /// The text ended inside a table.
    #[error("table not ended (no newrt|end record)")]
    NotEnded,
    /// The text holds no table at all.
    #[error("no table (no newrt|start .. newrt|end)")]
    NoTable,
}

/// A refused record: where and why.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("route table line {line}: {kind}")]
pub struct RouteError {
    /// 1-based line number in the text (for pushed tables: in the current message).
    pub line: usize,
    /// The reason.
    pub kind: RouteErrorKind,
}

impl RouteError {
    /// A bounded label for metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self.kind {
            RouteErrorKind::UnknownRecord(_) => "unknown_record",
            RouteErrorKind::MissingFields { .. } => "missing_fields",
            RouteErrorKind::BadNumber { .. } => "bad_number",
            RouteErrorKind::BadEndpoint(_) => "bad_endpoint",
            RouteErrorKind::OutsideTable(_) => "outside_table",
            RouteErrorKind::NotComplete(_) => "not_complete",
            RouteErrorKind::CountMismatch { .. } => "count_mismatch",
            RouteErrorKind::UpdateBeforeFull => "update_before_full",
            RouteErrorKind::NotEnded => "not_ended",
            RouteErrorKind::NoTable => "no_table",
        }
    }
}

/// One round-robin group: a message goes to the next endpoint of the list.
#[derive(Debug)]
pub struct Group {
    endpoints: Vec<String>,
    next: AtomicUsize,
}

impl Clone for Group {
    fn clone(&self) -> Self {
        Self {
            endpoints: self.endpoints.clone(),
            next: AtomicUsize::new(self.next.load(Ordering::Relaxed)),
        }
    }
}

impl Group {
    /// The endpoints (`host:port`) of the group.
    #[must_use]
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    fn pick(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.endpoints.len();
        &self.endpoints[i]
    }
}

/// Where a route entry sends its messages.
#[derive(Debug, Clone)]
pub enum Target {
    /// One endpoint of each group.
    Groups(Vec<Group>),
    /// The owner of the message's meid (`%meid`).
    Meid,
}

/// Why a message has no destination.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// No entry for the message type (and subscription id).
    #[error("no route for mtype {mtype} sub_id {sub_id}")]
    NoEntry {
        /// Message type.
        mtype: i32,
        /// Subscription id.
        sub_id: i32,
    },
    /// A `%meid` entry but the meid has no known owner.
    #[error("no owner for meid {0:?}")]
    UnknownMeid(String),
}

/// A route table: entries by `(mtype, sub_id)` and the meid owner map.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    entries: HashMap<(i32, i32), Target>,
    meid_owner: HashMap<String, String>,
    table_id: Option<String>,
    skipped: usize,
}

impl RouteTable {
    /// Parses a complete table (as found in `RMR_SEED_RT`), keeping only entries without a
    /// sender list. See [`RouteTable::parse_as`].
    pub fn parse(text: &str) -> Result<Self, RouteError> {
        Self::parse_as(text, &[])
    }

    /// Parses a complete table for an application known as `me` (its `host:port` and
    /// `ip:port` names): sender-qualified entries not naming it are skipped and its own
    /// address is removed from endpoint lists. The last complete table of the text wins;
    /// updates in the text apply to it.
    pub fn parse_as(text: &str, me: &[String]) -> Result<Self, RouteError> {
        let mut loader = RouteLoader::new(me.to_vec());
        let mut current: Option<RouteTable> = None;
        let mut last_line = 0;
        for (i, line) in text.lines().enumerate() {
            last_line = i + 1;
            match loader.feed(line, current.as_ref()) {
                Ok(Some(done)) => current = Some(done.table),
                Ok(None) => {}
                Err(kind) => return Err(RouteError { line: i + 1, kind }),
            }
        }
        if loader.in_progress() {
            return Err(RouteError {
                line: last_line,
                kind: RouteErrorKind::NotEnded,
            });
        }
        current.ok_or(RouteError {
            line: last_line,
            kind: RouteErrorKind::NoTable,
        })
    }

    /// The table id given in the start record, if any.
    #[must_use]
    pub fn table_id(&self) -> Option<&str> {
        self.table_id.as_deref()
    }

    /// Number of `(mtype, sub_id)` entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries skipped because their sender list did not name this application.
    #[must_use]
    pub fn skipped_for_other_senders(&self) -> usize {
        self.skipped
    }

    /// The entry a message of `mtype` / `sub_id` uses, with librmr's precedence.
    #[must_use]
    pub fn entry(&self, mtype: i32, sub_id: i32) -> Option<&Target> {
        if sub_id != UNSET_SUBID
            && let Some(t) = self.entries.get(&(mtype, sub_id))
        {
            return Some(t);
        }
        self.entries.get(&(mtype, UNSET_SUBID))
    }

    /// The owner endpoint of a meid.
    #[must_use]
    pub fn meid_owner(&self, meid: &str) -> Option<&str> {
        self.meid_owner.get(meid).map(String::as_str)
    }

    /// The endpoints a message goes to: one per group, advancing each group's round robin.
    pub fn destinations(
        &self,
        mtype: i32,
        sub_id: i32,
        meid: &str,
    ) -> Result<Vec<String>, NoRoute> {
        match self.entry(mtype, sub_id) {
            None => Err(NoRoute::NoEntry { mtype, sub_id }),
            Some(Target::Meid) => self
                .meid_owner(meid)
                .map(|o| vec![o.to_owned()])
                .ok_or_else(|| NoRoute::UnknownMeid(meid.to_owned())),
            Some(Target::Groups(groups)) => {
                Ok(groups.iter().map(|g| g.pick().to_owned()).collect())
            }
        }
    }
}

/// What a finished block of records produced.
#[derive(Debug)]
pub struct Loaded {
    /// The new active table.
    pub table: RouteTable,
    /// The table id of the start record.
    pub table_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    New,
    Update,
    Meid,
}

#[derive(Debug)]
struct Pending {
    block: Block,
    table: RouteTable,
    table_id: Option<String>,
    records: usize,
}

/// Builds tables from records arriving one line at a time (a seed file, or the
/// `RMRRM_TABLE_DATA` messages of the routing manager, which may split a table over many
/// messages). A refused record drops the table in progress.
#[derive(Debug, Default)]
pub struct RouteLoader {
    me: Vec<String>,
    pending: Option<Pending>,
    /// A record of the table in progress was refused: the rest of that table (up to its
    /// end record or the next start) is skipped, its refusal already reported.
    discarding: bool,
}

fn fields(line: &str) -> Vec<&str> {
    let line = line.split('#').next().unwrap_or("");
    line.split('|').map(str::trim).collect()
}

fn number(field: &'static str, value: &str) -> Result<i32, RouteErrorKind> {
    value.trim().parse().map_err(|_| RouteErrorKind::BadNumber {
        field,
        value: value.to_owned(),
    })
}

fn need(record: &'static str, f: &[&str], n: usize) -> Result<(), RouteErrorKind> {
    if f.len() < n || f[..n].iter().skip(1).any(|s| s.is_empty()) {
        return Err(RouteErrorKind::MissingFields {
            record,
            need: n,
            have: f.iter().filter(|s| !s.is_empty()).count(),
        });
    }
    Ok(())
}

fn valid_endpoint(ep: &str) -> bool {
    match ep.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

impl RouteLoader {
    /// A loader for an application known as `me` (`host:port`, `ip:port`).
    #[must_use]
    pub fn new(me: Vec<String>) -> Self {
        Self {
            me,
            pending: None,
            discarding: false,
        }
    }

    /// Whether a table is being built (a start record without its end yet).
    #[must_use]
    pub fn in_progress(&self) -> bool {
        self.pending.is_some() || self.discarding
    }

    /// The table id of the table in progress.
    #[must_use]
    pub fn pending_id(&self) -> Option<&str> {
        self.pending.as_ref().and_then(|p| p.table_id.as_deref())
    }

    /// Feeds one record. `current` is the active table (the base of updates).
    /// `Ok(Some(_))` when an end record completed a table. On error the table in
    /// progress is dropped.
    pub fn feed(
        &mut self,
        line: &str,
        current: Option<&RouteTable>,
    ) -> Result<Option<Loaded>, RouteErrorKind> {
        if self.discarding {
            let f = fields(line);
            let block_record = matches!(f[0], "newrt" | "updatert" | "update" | "meid_map");
            match f.get(1) {
                Some(&"end") if block_record => {
                    self.discarding = false;
                    return Ok(None);
                }
                Some(s) if block_record && s.starts_with('s') => self.discarding = false,
                _ => return Ok(None),
            }
        }
        let r = self.feed_inner(line, current);
        if let Err(e) = &r
            && !matches!(e, RouteErrorKind::NotComplete(_))
        {
            self.discarding = self.pending.take().is_some();
        }
        r
    }

    fn feed_inner(
        &mut self,
        line: &str,
        current: Option<&RouteTable>,
    ) -> Result<Option<Loaded>, RouteErrorKind> {
        let f = fields(line);
        match f[0] {
            "" => Ok(None),
            "newrt" => self.block(Block::New, &f, current),
            "updatert" | "update" => self.block(Block::Update, &f, current),
            "meid_map" => self.block(Block::Meid, &f, current),
            "rte" => {
                need("rte", &f, 3)?;
                let sub = match f.get(3) {
                    Some(s) if !s.is_empty() => number("subid", s)?,
                    _ => UNSET_SUBID,
                };
                self.entry(f[1], sub, f[2])
            }
            "mse" => {
                need("mse", &f, 4)?;
                let sub = number("subid", f[2])?;
                self.entry(f[1], sub, f[3])
            }
            "del" => {
                need("del", &f, 3)?;
                let sub = number("subid", f[2])?;
                let me = self.me.clone();
                let p = self.pending_mut("del")?;
                p.records += 1;
                if let Some(mtype) = applies_to(f[1], &me)? {
                    p.table.entries.remove(&(mtype, sub));
                }
                Ok(None)
            }
            "mme_ar" => {
                need("mme_ar", &f, 3)?;
                if !valid_endpoint(f[1]) {
                    return Err(RouteErrorKind::BadEndpoint(f[1].to_owned()));
                }
                let p = self.pending_mut("mme_ar")?;
                p.records += 1;
                for meid in f[2].split_whitespace() {
                    p.table.meid_owner.insert(meid.to_owned(), f[1].to_owned());
                }
                Ok(None)
            }
            "mme_del" => {
                need("mme_del", &f, 2)?;
                let p = self.pending_mut("mme_del")?;
                p.records += 1;
                for meid in f[1].split_whitespace() {
                    p.table.meid_owner.remove(meid);
                }
                Ok(None)
            }
            other => Err(RouteErrorKind::UnknownRecord(other.to_owned())),
        }
    }

    fn pending_mut(&mut self, record: &'static str) -> Result<&mut Pending, RouteErrorKind> {
        self.pending
            .as_mut()
            .ok_or(RouteErrorKind::OutsideTable(record))
    }

    fn block(
        &mut self,
        block: Block,
        f: &[&str],
        current: Option<&RouteTable>,
    ) -> Result<Option<Loaded>, RouteErrorKind> {
        let record = match block {
            Block::New => "newrt",
            Block::Update => "updatert",
            Block::Meid => "meid_map",
        };
        need(record, f, 2)?;
        let id = f.get(2).filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
        if f[1] == "end" {
            let p = match self.pending.take() {
                Some(p) if p.block == block => p,
                Some(p) => {
                    self.pending = Some(p);
                    return Err(RouteErrorKind::OutsideTable(record));
                }
                None => return Err(RouteErrorKind::OutsideTable(record)),
            };
            if let Some(count) = id {
                let expected = usize::try_from(number("count", &count)?).map_err(|_| {
                    RouteErrorKind::BadNumber {
                        field: "count",
                        value: count.clone(),
                    }
                })?;
                if expected != p.records {
                    return Err(RouteErrorKind::CountMismatch {
                        expected,
                        got: p.records,
                    });
                }
            }
            let mut table = p.table;
            table.table_id.clone_from(&p.table_id);
            return Ok(Some(Loaded {
                table,
                table_id: p.table_id,
            }));
        }
        if !f[1].starts_with('s') {
            return Err(RouteErrorKind::UnknownRecord(format!("{record}|{}", f[1])));
        }
        let unfinished = self.pending.take();
        let table = match (block, current) {
            (Block::New, Some(cur)) => RouteTable {
                meid_owner: cur.meid_owner.clone(),
                ..RouteTable::default()
            },
            (Block::New, None) => RouteTable::default(),
            (Block::Update, None) => return Err(RouteErrorKind::UpdateBeforeFull),
            (_, Some(cur)) => cur.clone(),
            (Block::Meid, None) => RouteTable::default(),
        };
        self.pending = Some(Pending {
            block,
            table,
            table_id: id,
            records: 0,
        });
        match unfinished {
            // The new table is started; the unfinished one is reported (librmr nacks it).
            Some(p) => Err(RouteErrorKind::NotComplete(
                p.table_id.unwrap_or_else(|| "<id-missing>".to_owned()),
            )),
            None => Ok(None),
        }
    }

    fn entry(
        &mut self,
        ts: &str,
        sub: i32,
        groups: &str,
    ) -> Result<Option<Loaded>, RouteErrorKind> {
        let me = self.me.clone();
        let target = parse_groups(groups, &me)?;
        let p = self.pending_mut("rte")?;
        p.records += 1;
        match applies_to(ts, &me)? {
            Some(mtype) => {
                match target {
                    Some(t) => p.table.entries.insert((mtype, sub), t),
                    None => p.table.entries.remove(&(mtype, sub)),
                };
            }
            None => p.table.skipped += 1,
        }
        Ok(None)
    }
}

/// The mtype of a `mtype[,sender..]` field when the entry applies to `me`.
fn applies_to(ts: &str, me: &[String]) -> Result<Option<i32>, RouteErrorKind> {
    let mut parts = ts.split(',').map(str::trim);
    let mtype = number("mtype", parts.next().unwrap_or(""))?;
    let senders: Vec<&str> = parts.filter(|s| !s.is_empty()).collect();
    if senders.is_empty() || senders.iter().any(|s| me.iter().any(|m| m == s)) {
        Ok(Some(mtype))
    } else {
        Ok(None)
    }
}

/// `ep,ep;ep` into groups without our own address; `None` when no endpoint remains.
fn parse_groups(text: &str, me: &[String]) -> Result<Option<Target>, RouteErrorKind> {
    if text.trim() == "%meid" {
        return Ok(Some(Target::Meid));
    }
    let mut groups = Vec::new();
    for g in text.split(';') {
        let mut endpoints = Vec::new();
        for ep in g.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !valid_endpoint(ep) {
                return Err(RouteErrorKind::BadEndpoint(ep.to_owned()));
            }
            if !me.iter().any(|m| m == ep) {
                endpoints.push(ep.to_owned());
            }
        }
        if !endpoints.is_empty() {
            groups.push(Group {
                endpoints,
                next: AtomicUsize::new(0),
            });
        }
    }
    Ok((!groups.is_empty()).then_some(Target::Groups(groups)))
}

/// A shared, swappable active table.
pub type SharedTable = Arc<std::sync::RwLock<Arc<RouteTable>>>;
