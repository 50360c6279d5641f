//! `matrix`: every ordered pair of pods (or workloads), by port column (table, csv,
//! json) or with every allowed port of the pair (list, list-json, dot, svg). Written to
//! stdout as it is computed; a closed pipe (`| head`) ends the command normally.

use crate::args::{GroupBy, MatrixArgs, MatrixFormat};
use crate::input;
use crate::output::matrix_list::{self, Pairs};
use crate::output::matrix_out::{self, Grid, Group};
use crate::output::matrix_table;
use crate::query;
use anyhow::{bail, Context, Result};
use netfence_analyzer::{resolve_target, Connections, Matrix, MatrixPort, NameScope, Target};
use netfence_model::ports::PortRef;
use netfence_model::{EndpointId, Model};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufWriter, Write};
use std::process::{Command, ExitCode, Stdio};

const NO_DOT: &str = "-o svg needs Graphviz's dot on PATH (apt install graphviz / brew install \
                      graphviz); -o dot prints the graph source";

pub fn run(args: MatrixArgs) -> Result<ExitCode> {
    let input = input::load(&args.input)?;
    let model = &input.model;
    let sources = select(model, &input.scope, &args.from, &args.from_namespace)?;
    let dests = select(model, &input.scope, &args.to, &args.to_namespace)?;
    let per_pair = matches!(
        args.output,
        MatrixFormat::List | MatrixFormat::ListJson | MatrixFormat::Dot | MatrixFormat::Svg
    );
    if per_pair && !args.ports.is_empty() {
        bail!("-p chooses the columns of -o table, csv and json; -o list, list-json, dot and svg show every allowed port");
    }
    let rows = groups(model, &sources, args.by);
    let cols = groups(model, &dests, args.by);
    let result = if per_pair {
        let conns = Connections::compute(model);
        let pairs = Pairs {
            model,
            conns: &conns,
            rows: &rows,
            cols: &cols,
            listening_only: !args.all_ports,
        };
        if args.output == MatrixFormat::Svg {
            return svg(&pairs);
        }
        write_stdout(|out| match args.output {
            MatrixFormat::List => matrix_list::list(out, &pairs),
            MatrixFormat::ListJson => matrix_list::list_json(out, &pairs),
            _ => matrix_list::dot(out, &pairs),
        })
    } else {
        let ports = if args.ports.is_empty() {
            default_ports(model, &dests)
        } else {
            args.ports
                .iter()
                .map(|p| query::matrix_port(p))
                .collect::<Result<Vec<_>>>()?
        };
        let matrix = Matrix::compute(model, &ports);
        let grid = Grid::new(model, &matrix, rows, cols, args.all_ports);
        write_stdout(|out| match args.output {
            MatrixFormat::Json => matrix_out::json(out, &grid, args.by == GroupBy::Workload),
            MatrixFormat::Csv => matrix_out::csv(out, &grid),
            _ => matrix_table::table(out, &grid, matrix_table::width()),
        })
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("writing the matrix"),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

fn write_stdout(
    f: impl FnOnce(&mut BufWriter<io::StdoutLock>) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    f(&mut out)?;
    out.flush()
}

/// The graph through Graphviz: its SVG goes straight to our stdout.
fn svg(pairs: &Pairs<'_>) -> Result<ExitCode> {
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(NO_DOT),
        Err(e) => return Err(e).context("starting Graphviz's dot"),
    };
    let stdin = child.stdin.take().expect("stdin is piped");
    let mut w = BufWriter::with_capacity(1 << 16, stdin);
    let written = matrix_list::dot(&mut w, pairs).and_then(|_| w.flush());
    drop(w);
    let status = child.wait().context("waiting for Graphviz's dot")?;
    // dot killed by SIGPIPE: our reader closed stdout, a normal end.
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(13) {
            return Ok(ExitCode::SUCCESS);
        }
    }
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            return Err(e).context("writing the graph to dot")
        }
        _ => {}
    }
    if !status.success() {
        bail!("Graphviz's dot failed ({status})");
    }
    Ok(ExitCode::SUCCESS)
}

/// The endpoints named by `names` (as can-reach resolves them) and those of
/// `namespaces`; every endpoint when both are empty. Cluster order.
fn select(
    model: &Model,
    scope: &NameScope,
    names: &[String],
    namespaces: &[String],
) -> Result<Vec<EndpointId>> {
    let cluster = &model.cluster;
    if names.is_empty() && namespaces.is_empty() {
        if cluster.endpoints.is_empty() {
            bail!("no pods or workloads in the input");
        }
        return Ok(cluster.endpoints.iter().map(|e| e.id).collect());
    }
    let mut picked = BTreeSet::new();
    for name in names {
        match resolve_target(cluster, name, scope)? {
            Target::Endpoints { ids, .. } => picked.extend(ids),
            Target::Service(_) => {
                bail!("{name} is a Service; name its pods or workload instead")
            }
            Target::External(net) => {
                bail!("{net} is not a pod or workload of the input")
            }
        }
    }
    for ns in namespaces {
        let before = picked.len();
        picked.extend(
            cluster
                .endpoints
                .iter()
                .filter(|e| cluster.namespace(e.namespace).name == *ns)
                .map(|e| e.id),
        );
        if picked.len() == before
            && !cluster
                .endpoints
                .iter()
                .any(|e| cluster.namespace(e.namespace).name == *ns)
        {
            bail!("no pods or workloads in namespace {ns}");
        }
    }
    Ok(picked.into_iter().collect())
}

/// Every container port the destinations declare, or 80/TCP when none does.
fn default_ports(model: &Model, shown: &[EndpointId]) -> Vec<MatrixPort> {
    let set: BTreeSet<(u16, netfence_model::Protocol)> = shown
        .iter()
        .flat_map(|e| model.cluster.endpoint(*e).ports.iter())
        .map(|p| (p.port, p.protocol))
        .collect();
    if set.is_empty() {
        return vec![MatrixPort {
            port: PortRef::Number(80),
            protocol: netfence_model::Protocol::Tcp,
        }];
    }
    set.into_iter()
        .map(|(port, protocol)| MatrixPort {
            port: PortRef::Number(port),
            protocol,
        })
        .collect()
}

fn groups(model: &Model, shown: &[EndpointId], by: GroupBy) -> Vec<Group> {
    let cluster = &model.cluster;
    match by {
        GroupBy::Pod => shown
            .iter()
            .map(|&e| Group {
                name: cluster.endpoint_name(e),
                namespace: cluster
                    .namespace(cluster.endpoint(e).namespace)
                    .name
                    .clone(),
                members: vec![e],
            })
            .collect(),
        GroupBy::Workload => {
            let mut by_name: BTreeMap<String, Group> = BTreeMap::new();
            for &e in shown {
                let ep = cluster.endpoint(e);
                let name = match ep.workload {
                    Some(w) => cluster.workload_key(w),
                    None => cluster.endpoint_name(e),
                };
                by_name
                    .entry(name.clone())
                    .or_insert_with(|| Group {
                        name,
                        namespace: cluster.namespace(ep.namespace).name.clone(),
                        members: Vec::new(),
                    })
                    .members
                    .push(e);
            }
            by_name.into_values().collect()
        }
    }
}
