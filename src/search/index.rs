//! The tantivy index: schema, Vietnamese tokenizers, writes with the change-log cursor committed
//! atomically alongside (as the commit payload), and permission-filtered search with facets and
//! snippets.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

use super::analysis::{self, query_terms, QueryTerm};
use super::facets::{Counts, FacetCollector};
use super::phrase_boost::PhraseBoosted;
use super::query::{Item, ParsedQuery, QueryField};
use super::SearchError;
use crate::auth::ReadScope;
use crate::storage::Document;

const FOLDED: &str = "vi_folded";
const EXACT: &str = "vi_exact";
/// Heap of each indexing thread.
const WRITER_HEAP_PER_THREAD: usize = 64 * 1024 * 1024;
/// Facet buckets returned per facet.
const FACET_SIZE: usize = 50;

/// A document's searchable text: the extracted text of its files and how complete it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextState {
    /// No file attached: metadata only.
    NoFiles,
    /// Text of the attached files is indexed.
    Full,
    /// A file has no text layer (e.g. a scan) or could not be read: indexed by metadata only.
    MetadataOnly,
}

impl TextState {
    pub fn code(self) -> &'static str {
        match self {
            Self::NoFiles => "no_files",
            Self::Full => "full",
            Self::MetadataOnly => "metadata_only",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "full" => Self::Full,
            "metadata_only" => Self::MetadataOnly,
            _ => Self::NoFiles,
        }
    }
}

/// What is indexed for one document, built from its database row (pure).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexInput {
    pub id: i64,
    pub agency_id: i64,
    pub unit_id: Option<i64>,
    pub created_by: Option<i64>,
    pub document_type: String,
    pub direction: String,
    pub status: String,
    pub urgency: String,
    pub issuer: Option<String>,
    pub year: Option<i64>,
    /// YYYYMMDD of the issue date, else the arrival date, else the creation date.
    pub date_key: i64,
    pub date: String,
    pub reference: Option<String>,
    pub codes: String,
    pub subject: String,
    /// Everything searchable: the subject first, then the other metadata and the files' text.
    pub body: String,
    pub text_state: TextState,
}

impl IndexInput {
    /// The index entry of `doc`, with `text` extracted from its files.
    pub fn from_document(doc: &Document, text: &str, text_state: TextState) -> Self {
        let created = chrono::DateTime::from_timestamp_millis(doc.created_at)
            .map(|t| (t + chrono::Duration::hours(7)).date_naive().to_string())
            .unwrap_or_default();
        let date = doc
            .issued_on
            .clone()
            .or_else(|| doc.arrived_on.clone())
            .unwrap_or(created);
        let date_key = date_key(&date).unwrap_or(0);
        let year = doc.year.or_else(|| date.get(0..4).and_then(|y| y.parse().ok()));
        let codes = [
            doc.reference.as_deref(),
            doc.symbol.as_deref(),
            doc.issuer_code.as_deref(),
            doc.external_id.as_deref(),
        ]
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
        let mut body = String::with_capacity(doc.subject.len() + text.len() + 128);
        for part in [
            Some(doc.subject.as_str()),
            doc.reference.as_deref(),
            doc.issuer_name.as_deref(),
            doc.issuer_code.as_deref(),
            doc.signer_name.as_deref(),
            doc.signer_position.as_deref(),
            doc.notes.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            body.push_str(part);
            body.push('\n');
        }
        body.push_str(text);
        Self {
            id: doc.id,
            agency_id: doc.agency_id,
            unit_id: doc.unit_id,
            created_by: doc.created_by,
            document_type: doc.document_type.clone(),
            direction: doc.direction.clone(),
            status: doc.status.clone(),
            urgency: doc.urgency.clone(),
            issuer: doc.issuer_name.clone(),
            year,
            date_key,
            date,
            reference: doc.reference.clone(),
            codes,
            subject: doc.subject.clone(),
            body,
            text_state,
        }
    }
}

/// `YYYY-MM-DD` → `YYYYMMDD`.
pub fn date_key(date: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    date.replace('-', "").parse().ok().filter(|_| d.to_string() == date)
}

/// How results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    Relevance,
    Newest,
    Oldest,
}

/// A checked search request.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    pub query: ParsedQuery,
    /// Inclusive date range (YYYYMMDD keys) on the document date.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub sort: SortBy,
    pub limit: usize,
    pub offset: usize,
}

/// One result.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: i64,
    /// Relevance score (absent when sorted by date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    pub reference: Option<String>,
    pub subject: String,
    pub document_type: String,
    pub direction: String,
    pub status: String,
    pub urgency: String,
    pub issuer: Option<String>,
    /// Document date (issue date, else arrival date), YYYY-MM-DD.
    pub date: String,
    /// An excerpt with the matched words in `<b>…</b>` (HTML-escaped otherwise).
    pub snippet: String,
    pub text_state: TextState,
}

/// A facet value and how many readable documents match with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Counts per value over the whole result set (not only the page).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Facets {
    pub document_type: Vec<FacetCount>,
    pub year: Vec<FacetCount>,
    pub issuer: Vec<FacetCount>,
    pub direction: Vec<FacetCount>,
    pub status: Vec<FacetCount>,
    pub urgency: Vec<FacetCount>,
}

/// A page of results.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub total: u64,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

#[derive(Clone, Copy, Debug)]
struct Fields {
    id: Field,
    agency_id: Field,
    unit_id: Field,
    created_by: Field,
    document_type: Field,
    direction: Field,
    status: Field,
    urgency: Field,
    issuer: Field,
    year: Field,
    date_key: Field,
    date: Field,
    reference: Field,
    text_state: Field,
    subject: Field,
    subject_f: Field,
    subject_e: Field,
    body_f: Field,
    body_e: Field,
    codes_f: Field,
    issuer_f: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str, stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let int = || NumericOptions::default().set_indexed();
    let f = Fields {
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        agency_id: b.add_i64_field("agency_id", int()),
        unit_id: b.add_i64_field("unit_id", int()),
        created_by: b.add_i64_field("created_by", int()),
        document_type: b.add_text_field("document_type", STRING | STORED | FAST),
        direction: b.add_text_field("direction", STRING | STORED | FAST),
        status: b.add_text_field("status", STRING | STORED | FAST),
        urgency: b.add_text_field("urgency", STRING | STORED | FAST),
        issuer: b.add_text_field("issuer", STRING | STORED | FAST),
        year: b.add_i64_field("year", INDEXED | STORED | FAST),
        date_key: b.add_i64_field("date_key", INDEXED | FAST),
        date: b.add_text_field("date", STORED),
        reference: b.add_text_field("reference", STORED),
        text_state: b.add_text_field("text_state", STRING | STORED),
        subject: b.add_text_field("subject", STORED),
        subject_f: b.add_text_field("subject_f", text(FOLDED, false)),
        subject_e: b.add_text_field("subject_e", text(EXACT, false)),
        body_f: b.add_text_field("body_f", text(FOLDED, true)),
        body_e: b.add_text_field("body_e", text(EXACT, false)),
        codes_f: b.add_text_field("codes_f", text(FOLDED, false)),
        issuer_f: b.add_text_field("issuer_f", text(FOLDED, false)),
    };
    (b.build(), f)
}

/// Tokenizer over [`analysis::TokenCursor`] (the tokens of [`analysis::tokenize`]), emitting the
/// exact or the folded forms.
#[derive(Clone, Copy, Debug)]
struct ViTokenizer {
    folded: bool,
}

/// The tokens of one text, produced one at a time into a reused [`Token`].
struct ViTokenStream<'a> {
    cursor: analysis::TokenCursor<'a>,
    token: Token,
}

impl TokenStream for ViTokenStream<'_> {
    fn advance(&mut self) -> bool {
        match self.cursor.advance(&mut self.token.text) {
            Some((from, to, position)) => {
                self.token.offset_from = from;
                self.token.offset_to = to;
                self.token.position = position;
                self.token.position_length = 1;
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

impl Tokenizer for ViTokenizer {
    type TokenStream<'a> = ViTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> ViTokenStream<'a> {
        ViTokenStream {
            cursor: analysis::TokenCursor::new(text, self.folded),
            token: Token::default(),
        }
    }
}

/// One process's search index with the change-log cursor it has reached.
pub struct SearchIndex {
    dir: PathBuf,
    reader: IndexReader,
    /// `None` when opened read-only (another process owns the writer lock).
    writer: Option<Mutex<IndexWriter>>,
    fields: Fields,
    cursor: AtomicI64,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("cursor", &self.cursor())
            .finish_non_exhaustive()
    }
}

fn ix(e: impl std::fmt::Display) -> SearchError {
    SearchError::Index(e.to_string())
}

impl SearchIndex {
    /// Opens the index in `dir` for writing, creating it when absent. Fails when another
    /// process holds it.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        Self::open_with(dir, true)
    }

    /// Opens an existing index for reading only (e.g. the CLI while a server indexes).
    pub fn open_read_only(dir: &Path) -> Result<Self, SearchError> {
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, writable: bool) -> Result<Self, SearchError> {
        if writable {
            std::fs::create_dir_all(dir)
                .map_err(|e| SearchError::Index(format!("cannot create {}: {e}", dir.display())))?;
        }
        let (schema, fields) = schema();
        let index = if dir.join("meta.json").exists() {
            let index = Index::open_in_dir(dir).map_err(ix)?;
            if index.schema() != schema {
                return Err(SearchError::Index(format!(
                    "the index in {} has an older schema; remove it and run `vanthu reindex`",
                    dir.display()
                )));
            }
            index
        } else if writable {
            Index::create_in_dir(dir, schema).map_err(ix)?
        } else {
            return Err(SearchError::Index(format!("no search index in {}", dir.display())));
        };
        index
            .tokenizers()
            .register(FOLDED, TextAnalyzer::from(ViTokenizer { folded: true }));
        index
            .tokenizers()
            .register(EXACT, TextAnalyzer::from(ViTokenizer { folded: false }));
        let writer = if writable {
            // Created on a background-priority thread, so that the indexing and merge threads
            // tantivy starts here inherit that priority.
            let w: IndexWriter = std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        background_priority();
                        index.writer_with_num_threads(
                            Self::writer_threads(),
                            Self::writer_threads() * WRITER_HEAP_PER_THREAD,
                        )
                    })
                    .join()
            })
            .map_err(|_| SearchError::Index("opening the index writer panicked".into()))?
            .map_err(|e| {
                SearchError::Locked(format!(
                    "cannot open the index in {} for writing (is another vanthu process using it?): {e}",
                    dir.display()
                ))
            })?;
            Some(Mutex::new(w))
        } else {
            None
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(ix)?;
        let cursor = index
            .load_metas()
            .map_err(ix)?
            .payload
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0);
        Ok(Self {
            dir: dir.to_path_buf(),
            reader,
            writer,
            fields,
            cursor: AtomicI64::new(cursor),
        })
    }

    /// Indexing threads of the writer: two, or one on a single-core machine.
    pub fn writer_threads() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
    }

    /// The last change-log sequence number whose change is committed in this index.
    pub fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::SeqCst)
    }

    /// Number of documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer
            .as_ref()
            .ok_or_else(|| SearchError::Index("the index is open read-only".into()))?
            .lock()
            .map_err(|_| SearchError::Index("index writer poisoned".into()))
    }

    fn to_doc(&self, d: &IndexInput) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, u64::try_from(d.id).unwrap_or_default());
        doc.add_i64(f.agency_id, d.agency_id);
        doc.add_i64(f.unit_id, d.unit_id.unwrap_or(-1));
        doc.add_i64(f.created_by, d.created_by.unwrap_or(-1));
        doc.add_text(f.document_type, &d.document_type);
        doc.add_text(f.direction, &d.direction);
        doc.add_text(f.status, &d.status);
        doc.add_text(f.urgency, &d.urgency);
        if let Some(issuer) = &d.issuer {
            doc.add_text(f.issuer, issuer);
            doc.add_text(f.issuer_f, analysis::nfc(issuer));
        }
        if let Some(y) = d.year {
            doc.add_i64(f.year, y);
        }
        doc.add_i64(f.date_key, d.date_key);
        doc.add_text(f.date, &d.date);
        if let Some(r) = &d.reference {
            doc.add_text(f.reference, r);
        }
        doc.add_text(f.text_state, d.text_state.code());
        let subject = analysis::nfc(&d.subject);
        doc.add_text(f.subject, &subject);
        doc.add_text(f.subject_f, &subject);
        doc.add_text(f.subject_e, &subject);
        // The body holds the subject (searches match words through the body alone, see
        // `full_query`); `from_document` puts it first.
        let body = if d.body.starts_with(&d.subject) {
            analysis::nfc(&d.body)
        } else {
            analysis::nfc(&format!("{}\n{}", d.subject, d.body))
        };
        doc.add_text(f.body_e, &body);
        doc.add_text(f.body_f, body);
        doc.add_text(f.codes_f, analysis::nfc(&d.codes));
        doc
    }

    fn commit(&self, writer: &mut IndexWriter, cursor: i64) -> Result<(), SearchError> {
        let mut prepared = writer.prepare_commit().map_err(ix)?;
        prepared.set_payload(&cursor.to_string());
        prepared.commit().map_err(ix)?;
        self.cursor.store(cursor, Ordering::SeqCst);
        self.reader.reload().map_err(ix)
    }

    /// Replaces these documents and records `cursor` in the same commit.
    pub fn apply(&self, docs: &[IndexInput], cursor: i64) -> Result<(), SearchError> {
        let mut w = self.writer()?;
        for d in docs {
            w.delete_term(Term::from_field_u64(
                self.fields.id,
                u64::try_from(d.id).unwrap_or_default(),
            ));
            w.add_document(self.to_doc(d)).map_err(ix)?;
        }
        self.commit(&mut w, cursor)
    }

    /// Starts a full rebuild: everything is deleted (visible at the next commit).
    pub fn clear(&self) -> Result<(), SearchError> {
        let w = self.writer()?;
        w.delete_all_documents().map_err(ix)?;
        Ok(())
    }

    /// Adds documents without committing (a rebuild commits once at the end, see [`Self::finish`]).
    pub fn add_uncommitted(&self, docs: &[IndexInput]) -> Result<(), SearchError> {
        let w = self.writer()?;
        for d in docs {
            w.delete_term(Term::from_field_u64(
                self.fields.id,
                u64::try_from(d.id).unwrap_or_default(),
            ));
            w.add_document(self.to_doc(d)).map_err(ix)?;
        }
        Ok(())
    }

    /// Commits pending work with `cursor`.
    pub fn finish(&self, cursor: i64) -> Result<(), SearchError> {
        let mut w = self.writer()?;
        self.commit(&mut w, cursor)
    }

    /// Searches within `scope`: the permission filter is part of the query, so totals, facets
    /// and snippets only ever see documents the user may read. `None` is the unrestricted
    /// operator view of `vanthu search` without `--as`.
    pub fn search(&self, scope: Option<&ReadScope>, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        let f = &self.fields;
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        if let Some(scope) = scope {
            filters.push(Box::new(ConstScoreQuery::new(scope_query(f, scope), 0.0)));
        }
        if req.from.is_some() || req.to.is_some() {
            let bound = |v: Option<i64>| match v {
                Some(v) => Bound::Included(Term::from_field_i64(f.date_key, v)),
                None => Bound::Unbounded,
            };
            filters.push(Box::new(ConstScoreQuery::new(
                Box::new(RangeQuery::new(bound(req.from), bound(req.to))),
                0.0,
            )));
        }
        let query = self.full_query(&req.query, filters);
        let searcher = self.reader.searcher();
        let limit = req.limit.max(1);
        let (addresses, counts): (Vec<(Option<f32>, DocAddress)>, Counts) = match req.sort {
            SortBy::Relevance => {
                let top = TopDocs::with_limit(limit).and_offset(req.offset);
                let (docs, counts) = searcher.search(query.as_ref(), &(top, FacetCollector)).map_err(ix)?;
                (docs.into_iter().map(|(s, a)| (Some(s), a)).collect(), counts)
            }
            SortBy::Newest | SortBy::Oldest => {
                let order = if req.sort == SortBy::Newest {
                    Order::Desc
                } else {
                    Order::Asc
                };
                let top = TopDocs::with_limit(limit)
                    .and_offset(req.offset)
                    .order_by_fast_field::<i64>("date_key", order);
                let (docs, counts) = searcher.search(query.as_ref(), &(top, FacetCollector)).map_err(ix)?;
                (docs.into_iter().map(|(_, a)| (None, a)).collect(), counts)
            }
        };
        let facets = counts.facets(FACET_SIZE);
        let mut snippets = SnippetGenerator::create(&searcher, query.as_ref(), f.body_f).map_err(ix)?;
        snippets.set_max_num_chars(240);
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, addr) in addresses {
            let doc: TantivyDocument = searcher.doc(addr).map_err(ix)?;
            let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string);
            let snippet = snippets.snippet_from_doc(&doc);
            let snippet = if snippet.is_empty() {
                html_escape(
                    &text(f.subject)
                        .unwrap_or_default()
                        .chars()
                        .take(240)
                        .collect::<String>(),
                )
            } else {
                snippet.to_html()
            };
            hits.push(Hit {
                id: doc
                    .get_first(f.id)
                    .and_then(|v| v.as_u64())
                    .and_then(|v| i64::try_from(v).ok())
                    .unwrap_or_default(),
                score,
                reference: text(f.reference),
                subject: text(f.subject).unwrap_or_default(),
                document_type: text(f.document_type).unwrap_or_default(),
                direction: text(f.direction).unwrap_or_default(),
                status: text(f.status).unwrap_or_default(),
                urgency: text(f.urgency).unwrap_or_default(),
                issuer: text(f.issuer),
                date: text(f.date).unwrap_or_default(),
                snippet,
                text_state: TextState::parse(&text(f.text_state).unwrap_or_default()),
            });
        }
        Ok(SearchResults {
            total: counts.total,
            hits,
            facets,
        })
    }

    /// The whole query: `filters` (permission scope, date range) and the user's items decide
    /// which documents match; score boosts are layered on top and never change the matches.
    ///
    /// Every text item matches through its folded field alone: the exact field and the subject
    /// hold the same words (the body starts with the subject, see [`Self::to_doc`]), so they
    /// only add to the score. Each boost wraps the query so far as an optional clause, which
    /// tantivy evaluates only for documents that already match; a union of the fields per word
    /// would instead score every posting of every field near each match, which on common words
    /// costs most of the query. Phrase boosts are asked about each matching document only
    /// ([`PhraseBoosted`]).
    fn full_query(&self, q: &ParsedQuery, filters: Vec<Box<dyn Query>>) -> Box<dyn Query> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut boosts: Vec<Box<dyn Query>> = Vec::new();
        let mut phrase_boosts: Vec<(Vec<Term>, f32)> = Vec::new();
        let mut bare_words: Vec<QueryTerm> = Vec::new();
        for c in &q.clauses {
            let occur = if c.negated { Occur::MustNot } else { Occur::Must };
            let mut text = |terms: Vec<QueryTerm>, matched: Field, exact: Option<Field>, subject: Option<Field>| {
                if terms.is_empty() {
                    return None;
                }
                if !c.negated {
                    let mut boost = |field: Field, pick: fn(&QueryTerm) -> &str, by: f32| {
                        if terms.len() == 1 {
                            boosts.push(Box::new(BoostQuery::new(terms_query(&terms, field, pick), by)));
                        } else {
                            let t = terms.iter().map(|t| Term::from_field_text(field, pick(t))).collect();
                            phrase_boosts.push((t, by));
                        }
                    };
                    if let Some(e) = exact {
                        boost(e, exact_of, 2.0);
                    }
                    if let Some(s) = subject {
                        boost(s, folded_of, 0.5);
                    }
                }
                Some(terms_query(&terms, matched, folded_of))
            };
            let built: Option<Box<dyn Query>> = match &c.item {
                Item::Word(w) => {
                    let terms = query_terms(w);
                    if !c.negated && terms.len() == 1 {
                        bare_words.extend(terms.iter().cloned());
                    }
                    text(terms, f.body_f, Some(f.body_e), Some(f.subject_f))
                }
                Item::Phrase(p) => text(query_terms(p), f.body_f, Some(f.body_e), Some(f.subject_f)),
                Item::Year(y) => Some(term(Term::from_field_i64(f.year, *y))),
                Item::Field(field, value) => match field {
                    QueryField::DocumentType => Some(term(Term::from_field_text(f.document_type, value))),
                    QueryField::Direction => Some(term(Term::from_field_text(f.direction, value))),
                    QueryField::Status => Some(term(Term::from_field_text(f.status, value))),
                    QueryField::Urgency => Some(term(Term::from_field_text(f.urgency, value))),
                    QueryField::Issuer => text(query_terms(value), f.issuer_f, None, None),
                    QueryField::Reference => text(query_terms(value), f.codes_f, None, None),
                    QueryField::Subject => text(query_terms(value), f.subject_f, Some(f.subject_e), None),
                    QueryField::Year => None,
                },
            };
            match built {
                Some(q) => clauses.push((occur, q)),
                // A positive item with no searchable term (e.g. only punctuation) matches nothing.
                None if !c.negated => clauses.push((Occur::Must, Box::new(EmptyQuery))),
                None => {}
            }
        }
        // Adjacent bare syllables as a phrase rank multi-syllable words ("quyết định") higher.
        if bare_words.len() >= 2 {
            let folded: Vec<Term> = bare_words
                .iter()
                .map(|t| Term::from_field_text(f.body_f, &t.folded))
                .collect();
            phrase_boosts.push((folded, 1.5));
        }
        if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        clauses.extend(filters.into_iter().map(|q| (Occur::Must, q)));
        let mut query: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        for boost in boosts {
            query = Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Should, boost)]));
        }
        if phrase_boosts.is_empty() {
            query
        } else {
            Box::new(PhraseBoosted {
                required: query,
                phrases: phrase_boosts,
            })
        }
    }
}

fn term(t: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(t, IndexRecordOption::Basic))
}

fn folded_of(t: &QueryTerm) -> &str {
    &t.folded
}

fn exact_of(t: &QueryTerm) -> &str {
    &t.exact
}

/// One term, or a phrase of several, over `field`.
fn terms_query(terms: &[QueryTerm], field: Field, pick: fn(&QueryTerm) -> &str) -> Box<dyn Query> {
    match terms {
        [one] => Box::new(TermQuery::new(
            Term::from_field_text(field, pick(one)),
            IndexRecordOption::WithFreqs,
        )),
        _ => Box::new(PhraseQuery::new(
            terms.iter().map(|t| Term::from_field_text(field, pick(t))).collect(),
        )),
    }
}

/// The permission filter: the same rule as the document list (`ReadScope`).
fn scope_query(f: &Fields, scope: &ReadScope) -> Box<dyn Query> {
    match scope {
        ReadScope::Agency { agency_id } => term(Term::from_field_i64(f.agency_id, *agency_id)),
        ReadScope::Units {
            agency_id,
            unit_ids,
            user_id,
        } => {
            let mut any: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Should, term(Term::from_field_i64(f.created_by, *user_id)))];
            for u in unit_ids {
                any.push((Occur::Should, term(Term::from_field_i64(f.unit_id, *u))));
            }
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, term(Term::from_field_i64(f.agency_id, *agency_id))),
                (Occur::Must, Box::new(BooleanQuery::new(any))),
            ]))
        }
        ReadScope::Nothing => Box::new(EmptyQuery),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The index of this process, opened on first use (CLI commands that never search never lock it).
#[derive(Clone, Debug)]
pub struct SearchHandle {
    dir: PathBuf,
    index: Arc<Mutex<Option<Arc<SearchIndex>>>>,
}

impl SearchHandle {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            index: Arc::new(Mutex::new(None)),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The open index, opening it now if needed.
    pub fn get(&self) -> Result<Arc<SearchIndex>, SearchError> {
        let mut slot = self
            .index
            .lock()
            .map_err(|_| SearchError::Index("search handle poisoned".into()))?;
        if let Some(i) = slot.as_ref() {
            return Ok(i.clone());
        }
        let opened = Arc::new(SearchIndex::open(&self.dir)?);
        *slot = Some(opened.clone());
        Ok(opened)
    }
}

/// The niceness of index-writing threads: the kernel gives a nice-10 thread about a tenth of
/// the CPU time of a nice-0 thread when both want a core, and all of it when the core is idle.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`BACKGROUND_NICE`]. Threads it starts inherit
/// it (Linux keeps the nice value per thread). Best effort: where it is refused, indexing runs
/// at normal priority and a debug line says so.
pub fn background_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE) {
        tracing::debug!(error = %e, "could not lower the indexing thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;

    use super::*;
    use crate::search::query;

    /// The index writer's threads are started from a background-priority thread and must
    /// inherit its nice value (what keeps tantivy's merges from stalling requests).
    #[cfg(target_os = "linux")]
    #[test]
    fn background_priority_is_inherited_by_threads_started_later() {
        let nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(-100);
        let before = nice();
        let (own, child) = std::thread::spawn(move || {
            background_priority();
            let child = std::thread::spawn(nice).join().unwrap_or(-100);
            (nice(), child)
        })
        .join()
        .unwrap_or((-100, -100));
        assert_eq!(own, BACKGROUND_NICE.max(before));
        assert_eq!(child, own);
        assert_eq!(nice(), before, "the calling thread keeps its priority");
    }

    /// The query as built before boosts became lazy: per text item, a union of the folded
    /// field, the exact field and the subject; the bare-word phrase as an optional clause.
    fn union_query(ix: &SearchIndex, q: &ParsedQuery, scope: &ReadScope) -> Box<dyn Query> {
        let f = &ix.fields;
        let text = |terms: &[QueryTerm], exact: bool| -> Box<dyn Query> {
            let mut should: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Should, terms_query(terms, f.body_f, folded_of))];
            if exact {
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(terms_query(terms, f.body_e, exact_of), 2.0)),
                ));
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(terms_query(terms, f.subject_f, folded_of), 0.5)),
                ));
            }
            Box::new(BooleanQuery::new(should))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut bare: Vec<QueryTerm> = Vec::new();
        for c in &q.clauses {
            let occur = if c.negated { Occur::MustNot } else { Occur::Must };
            let terms = match &c.item {
                Item::Word(w) => query_terms(w),
                Item::Phrase(p) => query_terms(p),
                other => panic!("not a text item: {other:?}"),
            };
            if matches!(c.item, Item::Word(_)) && !c.negated && terms.len() == 1 {
                bare.extend(terms.iter().cloned());
            }
            clauses.push((occur, text(&terms, true)));
        }
        if bare.len() >= 2 {
            let folded = bare
                .iter()
                .map(|t| Term::from_field_text(f.body_f, &t.folded))
                .collect();
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(PhraseQuery::new(folded)), 1.5)),
            ));
        }
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>),
            (Occur::Must, Box::new(ConstScoreQuery::new(scope_query(f, scope), 0.0))),
        ]))
    }

    /// Lazy boosts and phrase boosts give the same matches, order and scores as the unions.
    #[test]
    fn lazy_boosts_rank_like_per_word_unions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ix = SearchIndex::open(dir.path()).expect("open");
        let sentences = [
            "Căn cứ Luật Thi hành án dân sự ngày 14 tháng 11 năm 2008.",
            "Lập danh mục hồ sơ, nộp lưu hồ sơ, tài liệu vào Lưu trữ cơ quan.",
            "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, các đơn vị phản ánh.",
            "Việc kê biên quyền sử dụng đất phải được lập biên bản.",
            "Số hóa tài liệu lưu trữ, xây dựng cơ sở dữ liệu hồ sơ thi hành án.",
            "Bàn giao hồ sơ; Bản kế hoạch chuyển đổi số.",
        ];
        let subjects = [
            "Quyết định thi hành án",
            "Kế hoạch lưu trữ hồ sơ",
            "Báo cáo chuyển đổi số",
        ];
        let mut docs = Vec::new();
        for id in 1..=600i64 {
            let n = id as usize;
            let subject = subjects[n % subjects.len()].to_string();
            let mut body = format!("{subject}\n");
            for k in 0..(n % 5 + 1) {
                body.push_str(sentences[(n * 7 + k * 5 + n / 7) % sentences.len()]);
                body.push(' ');
            }
            docs.push(IndexInput {
                id,
                agency_id: 1 + id % 2,
                unit_id: Some(id % 4),
                created_by: Some(id % 9),
                document_type: "cong_van".into(),
                direction: "incoming".into(),
                status: "registered".into(),
                urgency: "thuong".into(),
                issuer: None,
                year: Some(2025),
                date_key: 20250101,
                date: "2025-01-01".into(),
                reference: None,
                codes: String::new(),
                subject,
                body,
                text_state: TextState::Full,
            });
            if id % 150 == 0 {
                ix.apply(&docs, id).expect("apply");
                docs.clear();
            }
        }
        let scope = ReadScope::Units {
            agency_id: 1,
            unit_ids: vec![0],
            user_id: 5,
        };
        let searcher = ix.reader.searcher();
        let top = TopDocs::with_limit(1_000);
        for q in [
            "thi hanh an",
            "thi hành án dân sự",
            "kho lưu trữ",
            "\"lưu trữ\" ho so",
            "bản",
            "bàn giao",
            "ke bien quyen su dung dat",
            "so hoa tai lieu luu tru -bien",
            "\"thi hành án\" chuyen doi so",
        ] {
            let parsed = query::parse(q).expect("parse");
            let ours = ix.full_query(
                &parsed,
                vec![Box::new(ConstScoreQuery::new(scope_query(&ix.fields, &scope), 0.0))],
            );
            let want = searcher
                .search(union_query(&ix, &parsed, &scope).as_ref(), &top)
                .expect("want");
            let got = searcher.search(ours.as_ref(), &top).expect("got");
            assert!(!want.is_empty(), "{q}");
            assert_eq!(want.len(), got.len(), "{q}");
            // Each document scores the same up to float rounding (the sums are added in another
            // order), so only documents whose scores tie may swap places.
            let scores: std::collections::HashMap<DocAddress, f32> = got.iter().map(|(s, d)| (*d, *s)).collect();
            for (ws, wd) in &want {
                let gs = scores.get(wd).copied().unwrap_or(f32::NAN);
                assert!((ws - gs).abs() <= 1e-5 * ws.abs().max(1.0), "{q}: {wd:?} {ws} vs {gs}");
            }
            for pair in got.windows(2) {
                assert!(pair[0].0 >= pair[1].0, "{q}: ranked by score");
            }
        }
    }
}
