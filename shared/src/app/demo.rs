//! The walkthrough's demo tenant and a small knowledge base for it, so the
//! embedded default is useful on first start.

use serde_json::json;

use super::ingestion::{DocumentUpload, ingest_upload};
use super::tenants::{CreatedTenant, create_tenant, demo_tenant};
use super::{App, AppResult};
use crate::domain::audit::RequestOrigin;

const DOCUMENTS: [(&str, &str, &str, &str); 3] = [
    (
        "career_framework",
        "career_framework.md",
        "Engineering Career Framework 2025",
        include_str!("../../demo/career_framework.md"),
    ),
    (
        "values",
        "values_and_culture.md",
        "Company Values",
        include_str!("../../demo/values.md"),
    ),
    (
        "performance_guidelines",
        "performance_guidelines.md",
        "Performance Review Guidelines",
        include_str!("../../demo/performance_guidelines.md"),
    ),
];

/// On a store with no tenant at all, creates the demo tenant and loads its
/// documents; returns the tenant and its one-time admin key.
pub async fn seed_if_empty(app: &App) -> AppResult<Option<CreatedTenant>> {
    if !app.store.list_tenants().await?.is_empty() {
        return Ok(None);
    }
    let created = create_tenant(app, demo_tenant()).await?;
    for (category, filename, title, text) in DOCUMENTS {
        let upload = DocumentUpload {
            tenant_id: created.record.tenant.id.clone(),
            category: category.into(),
            filename: filename.into(),
            bytes: text.as_bytes().to_vec(),
            metadata: json!({"title": title, "source": "petraf demo"}),
        };
        ingest_upload(app, upload, "system_admin", &RequestOrigin::default()).await?;
    }
    Ok(Some(created))
}
