//! `vanthu search` and `vanthu reindex`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::search::{indexer, query, SearchError, SearchIndex, SearchRequest, SortBy};

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query: words with or without diacritics, "phrases", field:value, -exclusions.
    pub query: String,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Search as this user (only what they may read); default: every document.
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// Results to print (1..100).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Order: relevance, newest or oldest.
    #[arg(long, default_value = "relevance")]
    pub sort: String,
}

/// Opens this data dir's index: for writing (and brings it up to date) when no server holds
/// it, else read-only (the server keeps it current).
async fn open_index(s: &crate::services::Services) -> Result<Arc<SearchIndex>> {
    let dir = s.search.dir();
    match SearchIndex::open(dir) {
        Ok(ix) => {
            let ix = Arc::new(ix);
            indexer::catch_up(indexer::Sources::of(s), &ix).await?;
            Ok(ix)
        }
        Err(SearchError::Locked(_)) => Ok(Arc::new(SearchIndex::open_read_only(dir)?)),
        Err(e) => Err(e.into()),
    }
}

pub async fn search(config: Config, args: SearchArgs) -> Result<ExitCode> {
    if !(1..=100).contains(&args.limit) {
        bail!("--limit must be 1..100");
    }
    let sort = match args.sort.as_str() {
        "relevance" => SortBy::Relevance,
        "newest" => SortBy::Newest,
        "oldest" => SortBy::Oldest,
        other => bail!("--sort must be relevance, newest or oldest, not {other:?}"),
    };
    let parsed = query::parse(&args.query).map_err(|e| anyhow!("invalid query: {e}"))?;
    let s = crate::app::services(config, Arc::new(SystemClock)).await?;
    let scope = match &args.as_user {
        Some(username) => {
            let auth =
                s.db.user_auth(username)
                    .await
                    .map_err(|_| anyhow!("unknown user {username:?}"))?;
            let (principal, _) = crate::accounts::principal_for(&s, &auth.user, s.clock.now_ms())
                .await
                .map_err(|e| anyhow!("{}", e.message))?;
            Some(principal.read_scope())
        }
        None => None,
    };
    let index = open_index(&s).await?;
    let req = SearchRequest {
        query: parsed,
        sort,
        limit: args.limit,
        ..SearchRequest::default()
    };
    let results = tokio::task::spawn_blocking(move || index.search(scope.as_ref(), &req))
        .await
        .context("search task failed")??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        for h in &results.hits {
            println!(
                "{}\t{}\t{}\t{}",
                h.id,
                h.reference.as_deref().unwrap_or("-"),
                h.date,
                h.subject.replace(['\n', '\t'], " ")
            );
        }
        println!("{} found", results.total);
    }
    s.db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn reindex(config: Config, re_extract: bool) -> Result<ExitCode> {
    let s = crate::app::services(config, Arc::new(SystemClock)).await?;
    let dir = s.search.dir().to_path_buf();
    let index = match SearchIndex::open(&dir) {
        Ok(ix) => Arc::new(ix),
        Err(SearchError::Locked(m)) => bail!("{m}; stop the server using this data dir first"),
        Err(e) => return Err(e.into()),
    };
    if re_extract {
        let n = s.db.clear_file_texts().await?;
        eprintln!("forgot the extracted text of {n} files; every file is read again from object storage");
    }
    let tty = std::io::stderr().is_terminal();
    let (done, unreadable) = indexer::rebuild(indexer::Sources::of(&s), &index, |done, total| {
        if tty {
            let width = 30usize;
            let filled = (done as usize * width) / (total.max(1) as usize);
            eprint!(
                "\r[{}{}] {done}/{total} documents",
                "#".repeat(filled.min(width)),
                " ".repeat(width - filled.min(width))
            );
        }
    })
    .await?;
    if tty {
        eprintln!();
    }
    let (_, later) = indexer::catch_up(indexer::Sources::of(&s), &index).await?;
    let mut unreadable: std::collections::BTreeSet<i64> = unreadable.into_iter().collect();
    unreadable.extend(later);
    if !unreadable.is_empty() {
        eprintln!(
            "warning: the files of {} documents could not be read from object storage; they are indexed by metadata only (run reindex again when the store is back)",
            unreadable.len()
        );
    }
    println!(
        "reindexed {done} documents into {} (change log at {})",
        dir.display(),
        index.cursor()
    );
    s.db.close().await;
    Ok(ExitCode::SUCCESS)
}
