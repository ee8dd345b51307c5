use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use super::{AgencyCommand, AuditCommand, Cli, Command, ConfigCommand, LogFormatArg, UserCommand};
use crate::admin::{self, AgencyInput, UnitInput, UserInput};
use crate::audit::Actor;
use crate::clock::SystemClock;
use crate::config::{Config, LogFormat};
use crate::services::Services;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let command = match cli.command {
        Command::Config(ConfigCommand::Example) => {
            print!("{}", crate::config::EXAMPLE);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Pdf(cmd) => return super::pdf::run(cmd),
        Command::Pki(cmd) => return super::pki::run(cmd),
        Command::Edxml(cmd) => return super::edxml::run(cmd),
        other => other,
    };
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(f) = cli.log_format {
        config.log_format = match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(dispatch(command, config))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VANTHU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn,tantivy=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn dispatch(command: Command, mut config: Config) -> Result<ExitCode> {
    match command {
        Command::Serve(args) => {
            if let Some(addr) = args.listen {
                config.listen = addr;
            }
            serve(config, args.demo).await
        }
        Command::Migrate => {
            let s = services(config).await?;
            let versions = s.db.migration_versions().await?;
            println!(
                "database is at migration {} ({})",
                versions.last().copied().unwrap_or(0),
                s.db.backend().name()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User(cmd) => user(services(config).await?, cmd).await,
        Command::Agency(cmd) => agency(services(config).await?, cmd).await,
        Command::Config(ConfigCommand::Show) => {
            println!("{config:#?}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Example) | Command::Pdf(_) | Command::Pki(_) | Command::Edxml(_) => {
            unreachable!("handled before start-up")
        }
        Command::Audit(AuditCommand::Verify { json }) => audit_verify(services(config).await?, json).await,
        Command::Archive(cmd) => super::archive::run(config, cmd).await,
        Command::Search(args) => super::search::search(config, args).await,
        Command::Axis(cmd) => super::axis::run(config, cmd).await,
        Command::Reindex(args) => super::search::reindex(config, args.re_extract).await,
    }
}

async fn services(config: Config) -> Result<Services> {
    Ok(crate::app::services(config, Arc::new(SystemClock)).await?)
}

async fn serve(config: Config, demo: bool) -> Result<ExitCode> {
    let app = crate::App::build(config).await?;
    let addr = app.local_addr();
    if demo && crate::demo::seed_if_empty(app.services()).await? {
        println!("Demo data seeded: agency \"Cục Thi hành án dân sự tỉnh Mẫu Sơn\" (000.00.99.H99).");
    }
    if demo {
        let users: Vec<&str> = crate::demo::DEMO_USERS.iter().map(|u| u.0).collect();
        println!(
            "Demo users: {} — password: {}",
            users.join(", "),
            crate::demo::DEMO_PASSWORD
        );
        println!(
            "Log in:  curl -s http://{addr}/api/v1/auth/login -H 'content-type: application/json' -d '{{\"username\":\"vanthu\",\"password\":\"{}\"}}'",
            crate::demo::DEMO_PASSWORD
        );
    }
    tracing::info!(%addr, database = app.services().db.backend().name(), objects = app.services().objects.location(), "vanthu listening");
    println!("vanthu listening on http://{addr}");
    app.run(shutdown_signal()).await.context("server failed")?;
    tracing::info!("shut down cleanly");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(pw)
}

async fn find_agency(s: &Services, code: Option<&str>) -> Result<crate::storage::Agency> {
    match code {
        Some(c) => {
            s.db.agency_by_code(c)
                .await
                .map_err(|_| anyhow!("no agency with code {c}"))
        }
        None => {
            let all = s.db.agencies().await?;
            match all.len() {
                1 => Ok(all.into_iter().next().ok_or_else(|| anyhow!("no agency"))?),
                0 => bail!("no agency exists yet; create one with `vanthu agency add`"),
                _ => bail!("several agencies exist; name one with --agency CODE"),
            }
        }
    }
}

async fn find_user(s: &Services, username: &str) -> Result<crate::storage::User> {
    Ok(s.db
        .user_auth(username)
        .await
        .map_err(|_| anyhow!("no user named {username}"))?
        .user)
}

async fn user(s: Services, cmd: UserCommand) -> Result<ExitCode> {
    let actor = Actor::console("user");
    match cmd {
        UserCommand::Add {
            username,
            name,
            roles,
            agency,
            unit,
            position,
        } => {
            let agency = find_agency(&s, agency.as_deref()).await?;
            let unit_id = match unit {
                Some(abbr) => Some(
                    s.db.units(agency.id)
                        .await?
                        .into_iter()
                        .find(|u| u.abbreviation == abbr)
                        .ok_or_else(|| anyhow!("agency {} has no unit {abbr}", agency.code))?
                        .id,
                ),
                None => None,
            };
            let password = read_password()?;
            let input = UserInput {
                username,
                display_name: name,
                password,
                unit_id,
                position,
                roles,
            };
            let u = admin::create_user(&s, &actor, agency.id, &input, None).await?;
            println!("created user {} (id {})", u.username, u.id);
        }
        UserCommand::Passwd { username } => {
            let u = find_user(&s, &username).await?;
            let pw = read_password()?;
            admin::set_password(&s, &actor, &u, &pw).await?;
            println!("password of {username} changed; their sessions have ended");
        }
        UserCommand::Lock { username } => {
            let u = find_user(&s, &username).await?;
            admin::set_locked(&s, &actor, &u, true).await?;
            println!("{username} is locked");
        }
        UserCommand::Unlock { username } => {
            let u = find_user(&s, &username).await?;
            admin::set_locked(&s, &actor, &u, false).await?;
            println!("{username} is unlocked");
        }
        UserCommand::List => {
            for a in s.db.agencies().await? {
                for u in s.db.users(a.id).await? {
                    let roles: Vec<&str> = u.roles.iter().map(|r| r.code()).collect();
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.id,
                        u.username,
                        u.display_name,
                        roles.join(","),
                        if u.locked { "locked" } else { "active" }
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn agency(s: Services, cmd: AgencyCommand) -> Result<ExitCode> {
    let actor = Actor::console("agency");
    match cmd {
        AgencyCommand::Add {
            code,
            name,
            abbreviation,
            parent_name,
            place,
        } => {
            let a = admin::create_agency(
                &s,
                &actor,
                &AgencyInput {
                    code,
                    name,
                    abbreviation,
                    parent_name,
                    place_name: place,
                },
            )
            .await?;
            println!("created agency {} {} (id {})", a.code, a.name, a.id);
        }
        AgencyCommand::List => {
            for a in s.db.agencies().await? {
                println!("{}\t{}\t{}\t{}", a.id, a.code, a.abbreviation, a.name);
            }
        }
        AgencyCommand::AddUnit {
            agency,
            name,
            abbreviation,
            parent,
        } => {
            let a = find_agency(&s, Some(&agency)).await?;
            let parent_id = match parent {
                Some(p) => Some(
                    s.db.units(a.id)
                        .await?
                        .into_iter()
                        .find(|u| u.abbreviation == p)
                        .ok_or_else(|| anyhow!("agency {} has no unit {p}", a.code))?
                        .id,
                ),
                None => None,
            };
            let u = admin::create_unit(
                &s,
                &actor,
                a.id,
                &UnitInput {
                    name,
                    abbreviation,
                    parent_id,
                },
            )
            .await?;
            println!("created unit {} {} (id {})", u.abbreviation, u.name, u.id);
        }
        AgencyCommand::Units { agency } => {
            let a = find_agency(&s, Some(&agency)).await?;
            for u in s.db.units(a.id).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.id,
                    u.abbreviation,
                    u.name,
                    u.parent_id.map(|p| p.to_string()).unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit_verify(s: Services, json: bool) -> Result<ExitCode> {
    let show_progress = !json && std::io::stderr().is_terminal();
    let result =
        s.db.verify_audit(|done, total| {
            if show_progress {
                eprint!("\rverifying audit log: {done}/{total}");
            }
        })
        .await?;
    if show_progress {
        eprintln!();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else if let Some(e) = &result.error {
        println!("audit log BROKEN after {} intact entries: {e}", result.checked);
    } else {
        println!(
            "audit log intact: {} entries, chain head at {}",
            result.checked, result.head_seq
        );
    }
    Ok(if result.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
