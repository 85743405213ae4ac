//! Building a `casbin` crate enforcer over the openedx-authz model for a
//! policy, shared by the differential test and the bench.

use std::collections::BTreeSet;

use casbin::function_map::{key_match, OperatorFunction};
use casbin::rhai::Dynamic;
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use latchkey_authz::{Effect, Policy, OPENEDX_MODEL};

/// The crate's custom-function shape for `is_staff_or_superuser`.
pub type StaffFn = fn(Dynamic, Dynamic, Dynamic) -> Dynamic;

/// A staff function that is always false.
pub fn nobody(_: Dynamic, _: Dynamic, _: Dynamic) -> Dynamic {
    false.into()
}

/// An enforcer holding `policy`, with `staff` registered as
/// `is_staff_or_superuser` and, if asked, keyMatch domain matching on `g`.
pub fn enforcer(policy: &Policy, staff: StaffFn, domain_matching: bool) -> Enforcer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let model = DefaultModel::from_str(OPENEDX_MODEL).await.unwrap();
        let mut e = Enforcer::new(model, MemoryAdapter::default())
            .await
            .unwrap();
        e.add_function("is_staff_or_superuser", OperatorFunction::Arg3(staff));
        if domain_matching {
            e.get_role_manager()
                .write()
                .matching_fn(None, Some(key_match));
        }
        // The crate refuses a whole batch that repeats a rule: add sets.
        let p: BTreeSet<Vec<String>> = policy
            .permissions
            .iter()
            .map(|p| {
                let eft = if p.effect == Effect::Allow {
                    "allow"
                } else {
                    "deny"
                };
                vec![
                    p.subject.clone(),
                    p.action.clone(),
                    p.scope.clone(),
                    eft.to_owned(),
                ]
            })
            .collect();
        let g: BTreeSet<Vec<String>> = policy
            .assignments
            .iter()
            .map(|a| vec![a.subject.clone(), a.role.clone(), a.scope.clone()])
            .collect();
        let g2: BTreeSet<Vec<String>> = policy
            .implications
            .iter()
            .map(|i| vec![i.granted.clone(), i.implied.clone()])
            .collect();
        if !p.is_empty() {
            e.add_policies(p.into_iter().collect()).await.unwrap();
        }
        if !g2.is_empty() {
            e.add_named_grouping_policies("g2", g2.into_iter().collect())
                .await
                .unwrap();
        }
        if !g.is_empty() {
            e.add_named_grouping_policies("g", g.into_iter().collect())
                .await
                .unwrap();
        }
        e
    })
}
