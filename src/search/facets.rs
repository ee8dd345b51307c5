//! Facet counts and the total, gathered in the same pass as the top hits.
//!
//! A tantivy collector that reads each matching document's term ordinals from the fast-field
//! columns of the facet fields and counts them in plain arrays per segment; strings are looked
//! up only once per distinct value, when the segment is done. This replaces six generic term
//! aggregations (JSON requests, buckets through hash maps, per-document dispatch), which cost
//! more than the query itself on common words.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::index::{FacetCount, Facets};

/// The string facets, in the order of [`Counts::strings`].
pub const STRING_FACETS: [&str; 5] = ["document_type", "issuer", "direction", "status", "urgency"];
/// The numeric facet (an i64 fast field).
pub const YEAR: &str = "year";

/// Counts per value over every matching document, and the number of matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    /// Per entry of [`STRING_FACETS`]: value → documents.
    pub strings: [HashMap<String, u64>; 5],
    pub year: HashMap<i64, u64>,
}

impl Counts {
    /// The facets as returned by search: at most `size` values per facet, most frequent first
    /// (ties by value, so the order is stable).
    pub fn facets(&self, size: usize) -> Facets {
        fn top<K: Ord + ToString>(counts: impl Iterator<Item = (K, u64)>, size: usize) -> Vec<FacetCount> {
            let mut v: Vec<(K, u64)> = counts.filter(|(_, n)| *n > 0).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(size);
            v.into_iter()
                .map(|(k, count)| FacetCount {
                    value: k.to_string(),
                    count,
                })
                .collect()
        }
        let s = |i: usize| top(self.strings[i].iter().map(|(k, n)| (k.as_str(), *n)), size);
        Facets {
            document_type: s(0),
            issuer: s(1),
            direction: s(2),
            status: s(3),
            urgency: s(4),
            year: top(self.year.iter().map(|(k, n)| (*k, *n)), size),
        }
    }
}

/// Collects [`Counts`] (no scoring needed).
#[derive(Clone, Copy, Debug, Default)]
pub struct FacetCollector;

/// One segment's counts, by term ordinal.
pub struct SegmentFacets {
    total: u64,
    strings: Vec<Option<(StrColumn, Vec<u64>)>>,
    year: Option<Column<i64>>,
    /// Year counts indexed by `year - year_min` (a segment's years span a few decades).
    year_min: i64,
    years: Vec<u64>,
    /// Years outside that span (implausible dates), counted the slow way.
    other_years: HashMap<i64, u64>,
}

/// Widest span of years counted in an array.
const DENSE_YEARS: i64 = 4096;

impl Collector for FacetCollector {
    type Fruit = Counts;
    type Child = SegmentFacets;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentFacets> {
        let fast = segment.fast_fields();
        let mut strings = Vec::with_capacity(STRING_FACETS.len());
        for name in STRING_FACETS {
            strings.push(fast.str(name)?.map(|col| {
                let n = col.num_terms();
                (col, vec![0u64; n])
            }));
        }
        let year: Option<Column<i64>> = fast.column_opt(YEAR)?;
        let year_min = year.as_ref().map_or(0, |c| c.min_value());
        let span = year
            .as_ref()
            .map_or(0, |c| c.max_value().saturating_sub(year_min).saturating_add(1));
        Ok(SegmentFacets {
            total: 0,
            strings,
            year,
            year_min,
            years: vec![0; usize::try_from(span.clamp(0, DENSE_YEARS)).unwrap_or_default()],
            other_years: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut out = Counts::default();
        for f in fruits {
            out.total += f.total;
            for (into, from) in out.strings.iter_mut().zip(f.strings) {
                for (k, n) in from {
                    *into.entry(k).or_default() += n;
                }
            }
            for (k, n) in f.year {
                *out.year.entry(k).or_default() += n;
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = Counts;

    #[inline]
    fn collect(&mut self, doc: DocId, _: Score) {
        self.total += 1;
        for (col, counts) in self.strings.iter_mut().flatten() {
            for ord in col.ords().values_for_doc(doc) {
                if let Some(c) = counts.get_mut(ord as usize) {
                    *c += 1;
                }
            }
        }
        if let Some(col) = &self.year {
            for y in col.values_for_doc(doc) {
                let slot = usize::try_from(y.wrapping_sub(self.year_min))
                    .ok()
                    .and_then(|i| self.years.get_mut(i));
                match slot {
                    Some(c) => *c += 1,
                    None => *self.other_years.entry(y).or_default() += 1,
                }
            }
        }
    }

    fn harvest(self) -> Counts {
        let mut year = self.other_years;
        for (i, n) in self.years.into_iter().enumerate() {
            if n > 0 {
                *year.entry(self.year_min + i as i64).or_default() += n;
            }
        }
        let mut out = Counts {
            total: self.total,
            year,
            ..Counts::default()
        };
        let mut buf = String::new();
        for (into, col) in out.strings.iter_mut().zip(self.strings) {
            let Some((col, counts)) = col else { continue };
            for (ord, n) in counts.into_iter().enumerate() {
                if n == 0 {
                    continue;
                }
                buf.clear();
                // A dictionary that cannot give back its own ordinal is a damaged segment: that
                // value is left out rather than failing the whole search.
                if let Ok(true) = col.ord_to_str(ord as u64, &mut buf) {
                    *into.entry(buf.clone()).or_default() += n;
                }
            }
        }
        out
    }
}
