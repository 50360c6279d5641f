//! The matrix by [`Model::decide`], pair by pair: quadratic, and the reference the
//! set form is tested against (`Matrix::compute_by_decision`).

use super::MatrixPort;
use netfence_model::addr::Family;
use netfence_model::objects::Direction;
use netfence_model::ports::PortRef;
use netfence_model::{EndpointSet, Model, Party};

/// One column: every ordered pair decided by [`Model::decide`], both directions, per
/// family.
pub(super) fn compute_port(
    model: &Model,
    port: &MatrixPort,
    families: &[Family],
) -> Vec<EndpointSet> {
    let cluster = &model.cluster;
    let n = cluster.endpoints.len();
    let mut result = vec![EndpointSet::empty(n); n];
    for d in &cluster.endpoints {
        let number = match &port.port {
            PortRef::Number(p) => Some(*p),
            PortRef::Name(col) => d.named_port(col, port.protocol),
        };
        let Some(number) = number else { continue };
        let probe = netfence_model::PortSet::single(port.protocol, number);
        for s in &cluster.endpoints {
            let allowed = families.iter().any(|&f| {
                s.speaks(f)
                    && d.speaks(f)
                    && probe.is_subset(
                        &model
                            .decide(
                                Party::Endpoint(s.id),
                                Direction::Egress,
                                Party::Endpoint(d.id),
                                f,
                            )
                            .allowed,
                    )
                    && probe.is_subset(
                        &model
                            .decide(
                                Party::Endpoint(d.id),
                                Direction::Ingress,
                                Party::Endpoint(s.id),
                                f,
                            )
                            .allowed,
                    )
            });
            if allowed {
                result[s.id.index()].insert(d.id.index());
            }
        }
    }
    for (i, row) in result.iter_mut().enumerate() {
        row.insert(i);
    }
    result
}
