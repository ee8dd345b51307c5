//! Phrase boosts checked only on documents that already match.
//!
//! Ranking adds a phrase score (adjacent query syllables, "quyết định" as one word) to documents
//! that match anyway. tantivy's phrase scorer, used as an optional clause, answers "the next
//! document at or after this one with the phrase": when the phrase is rare but its syllables are
//! everywhere (`kho lưu trữ` against "khó khăn … lưu trữ"), that walks the positions of almost
//! every document in the index. [`PhraseBoosted`] instead asks each phrase only about the
//! document at hand, and scores it exactly as tantivy's phrase query would (BM25 over the phrase
//! count with the phrase terms' statistics), so results and ranking are unchanged.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{Bm25Weight, EnableScoring, Explanation, Query, QueryClone, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term, TERMINATED};

/// `required`, plus for each phrase that occurs in a matching document its BM25 phrase score
/// times its boost. The phrases never change which documents match.
#[derive(Debug)]
pub struct PhraseBoosted {
    pub required: Box<dyn Query>,
    /// Terms of one field, in order, and the boost.
    pub phrases: Vec<(Vec<Term>, Score)>,
}

impl Clone for PhraseBoosted {
    fn clone(&self) -> Self {
        Self {
            required: self.required.box_clone(),
            phrases: self.phrases.clone(),
        }
    }
}

impl Query for PhraseBoosted {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let required = self.required.weight(enable_scoring)?;
        let EnableScoring::Enabled {
            statistics_provider, ..
        } = enable_scoring
        else {
            return Ok(required);
        };
        let mut phrases = Vec::with_capacity(self.phrases.len());
        for (terms, boost) in &self.phrases {
            if terms.len() < 2 {
                continue;
            }
            let bm25 = Bm25Weight::for_terms(statistics_provider, terms)?.boost_by(*boost);
            phrases.push((terms.clone(), bm25));
        }
        Ok(Box::new(PhraseBoostedWeight { required, phrases }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.required.query_terms(visitor);
        for (terms, _) in &self.phrases {
            for t in terms {
                visitor(t, true);
            }
        }
    }
}

struct PhraseBoostedWeight {
    required: Box<dyn Weight>,
    phrases: Vec<(Vec<Term>, Bm25Weight)>,
}

impl Weight for PhraseBoostedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let required = self.required.scorer(reader, boost)?;
        let mut phrases = Vec::with_capacity(self.phrases.len());
        'phrases: for (terms, bm25) in &self.phrases {
            let field = terms[0].field();
            let inverted = reader.inverted_index(field)?;
            let mut postings = Vec::with_capacity(terms.len());
            for t in terms {
                match inverted.read_postings(t, IndexRecordOption::WithFreqsAndPositions)? {
                    Some(p) => postings.push(p),
                    // A term absent from this segment: the phrase occurs nowhere in it.
                    None => continue 'phrases,
                }
            }
            let fieldnorms = match reader.fieldnorms_readers().get_field(field)? {
                Some(r) => r,
                None => FieldNormReader::constant(reader.max_doc(), 1),
            };
            phrases.push(PhraseAt {
                postings,
                bm25: bm25.boost_by(boost),
                fieldnorms,
                candidates: Vec::new(),
                positions: Vec::new(),
            });
        }
        if phrases.is_empty() {
            return Ok(required);
        }
        Ok(Box::new(PhraseBoostedScorer { required, phrases }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document #{doc} does not match"
            )));
        }
        let mut e = Explanation::new("required clauses plus phrase boosts", scorer.score());
        e.add_detail(self.required.explain(reader, doc)?);
        Ok(e)
    }
}

/// One phrase of one segment, asked about one document at a time.
struct PhraseAt {
    postings: Vec<SegmentPostings>,
    bm25: Bm25Weight,
    fieldnorms: FieldNormReader,
    candidates: Vec<u32>,
    positions: Vec<u32>,
}

impl PhraseAt {
    /// How often the phrase occurs in `doc` (documents are asked in increasing order).
    fn count(&mut self, doc: DocId) -> u32 {
        for p in &mut self.postings {
            if p.doc() < doc {
                p.seek(doc);
            }
            if p.doc() != doc {
                return 0;
            }
        }
        let Some((first, rest)) = self.postings.split_first_mut() else {
            return 0;
        };
        first.positions(&mut self.candidates);
        for (i, p) in rest.iter_mut().enumerate() {
            p.positions(&mut self.positions);
            let shift = i as u32 + 1;
            let positions = &self.positions;
            self.candidates
                .retain(|&start| positions.binary_search(&(start + shift)).is_ok());
            if self.candidates.is_empty() {
                return 0;
            }
        }
        u32::try_from(self.candidates.len()).unwrap_or(u32::MAX)
    }

    fn score(&mut self, doc: DocId) -> Score {
        match self.count(doc) {
            0 => 0.0,
            n => self.bm25.score(self.fieldnorms.fieldnorm_id(doc), n),
        }
    }
}

struct PhraseBoostedScorer {
    required: Box<dyn Scorer>,
    phrases: Vec<PhraseAt>,
}

impl DocSet for PhraseBoostedScorer {
    fn advance(&mut self) -> DocId {
        self.required.advance()
    }
    fn seek(&mut self, target: DocId) -> DocId {
        self.required.seek(target)
    }
    fn doc(&self) -> DocId {
        self.required.doc()
    }
    fn size_hint(&self) -> u32 {
        self.required.size_hint()
    }
}

impl Scorer for PhraseBoostedScorer {
    fn score(&mut self) -> Score {
        let doc = self.required.doc();
        let mut score = self.required.score();
        if doc != TERMINATED {
            for p in &mut self.phrases {
                score += p.score(doc);
            }
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, TermQuery};
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{doc, Index, IndexWriter};

    use super::*;

    /// The boosted query ranks and scores exactly like tantivy's own optional phrase clause.
    #[test]
    fn scores_like_an_optional_phrase_query() {
        let mut b = Schema::builder();
        let body = b.add_text_field("body", TEXT);
        let index = Index::create_in_ram(b.build());
        let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("writer");
        let texts = [
            "thi hanh an dan su",
            "an thi hanh dan su thi hanh an",
            "thi hanh an thi hanh an thi hanh an va dan su",
            "dan su",
            "hanh thi an dan su su",
            "thi thi hanh hanh an an dan",
            "thi hanh an",
            "van ban thi hanh an dan su quoc gia thi hanh an",
        ];
        for round in 0..40usize {
            for (i, t) in texts.iter().enumerate() {
                w.add_document(doc!(body => format!("{t} {}", "x ".repeat((round + i) % 7))))
                    .expect("add");
            }
            if round % 13 == 0 {
                w.commit().expect("commit");
            }
        }
        w.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let term = |s: &str| Term::from_field_text(body, s);
        let required = || -> Box<dyn Query> {
            Box::new(BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(TermQuery::new(term("dan"), IndexRecordOption::WithFreqs)),
                ),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(term("an"), IndexRecordOption::WithFreqs)),
                ),
            ]))
        };
        for phrase in [
            vec!["thi", "hanh", "an"],
            vec!["hanh", "an"],
            vec!["an", "dan", "su"],
            vec!["su", "thi"],
        ] {
            let terms: Vec<Term> = phrase.iter().map(|s| term(s)).collect();
            let reference = BooleanQuery::new(vec![
                (Occur::Must, required()),
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(PhraseQuery::new(terms.clone())), 1.5)),
                ),
            ]);
            let ours = PhraseBoosted {
                required: required(),
                phrases: vec![(terms, 1.5)],
            };
            let top = TopDocs::with_limit(1_000);
            let want = searcher.search(&reference, &top).expect("reference");
            let got = searcher.search(&ours, &top).expect("ours");
            assert_eq!(want.len(), got.len(), "{phrase:?}");
            assert!(want.len() > 100, "{phrase:?}: {}", want.len());
            for ((ws, wd), (gs, gd)) in want.iter().zip(&got) {
                assert_eq!(wd, gd, "{phrase:?}");
                assert!((ws - gs).abs() <= 1e-5 * ws.abs().max(1.0), "{phrase:?}: {ws} vs {gs}");
            }
        }
    }
}
