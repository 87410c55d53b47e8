//! Employee sessions and their profile.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::hygiene::{OptionalProfileField, ProfileField};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Completed,
    /// Expired before completion (counted as abandoned).
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    FullTime,
    PartTime,
    Contract,
    Internship,
    Temporary,
}

/// What the employee tells us about themselves in `g2_basic`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmployeeProfile {
    pub employee_code: Option<String>,
    pub department: Option<String>,
    pub position: Option<String>,
    pub grade: Option<String>,
    pub years_of_service: Option<u32>,
    pub age_range: Option<String>,
    pub job_type: Option<JobType>,
}

/// The body of `PUT /api/session/{id}/info`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    #[schema(value_type = ProfileField)]
    pub employee_code: String,
    #[schema(value_type = ProfileField)]
    pub department: String,
    #[schema(value_type = ProfileField)]
    pub position: String,
    #[schema(value_type = Option<OptionalProfileField>)]
    pub grade: Option<String>,
    #[schema(maximum = 60)]
    pub years_of_service: Option<u32>,
    /// `28-32` (from 14 up to 100; written high to low, `32-28`, it is read
    /// low to high) or `60+`; blank is read as absent.
    #[schema(
        max_length = 100,
        pattern = "^ *(?:(?:1[4-9]|[2-9][0-9]|100) *(?:- *(?:1[4-9]|[2-9][0-9]|100)|\\+))? *$"
    )]
    pub age_range: Option<String>,
    pub job_type: Option<JobType>,
}

/// An age range written high to low (`32-28`), low to high: the same range.
fn low_to_high(range: String) -> String {
    let bounds = range
        .split_once('-')
        .map(|(a, b)| (a.trim().parse::<u32>(), b.trim().parse::<u32>()));
    match bounds {
        Some((Ok(high), Ok(low))) if high > low => format!("{low}-{high}"),
        _ => range,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ProfileError {
    pub field: &'static str,
    pub problem: String,
}

const MAX_FIELD_CHARS: usize = 100;

fn clean(field: &'static str, value: &str, required: bool) -> Result<Option<String>, ProfileError> {
    // Counted as sent too, so that the documented `maxLength` is the limit.
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(ProfileError {
            field,
            problem: format!("must be at most {MAX_FIELD_CHARS} characters"),
        });
    }
    let value = super::hygiene::strip_invisible(value);
    let value = value.trim();
    if value.is_empty() {
        return if required {
            Err(ProfileError {
                field,
                problem: "is required".into(),
            })
        } else {
            Ok(None)
        };
    }
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(ProfileError {
            field,
            problem: format!("must be at most {MAX_FIELD_CHARS} characters"),
        });
    }
    if super::hygiene::forbidden_in_field(value).is_some() {
        return Err(ProfileError {
            field,
            problem: "must not contain control characters, bidirectional overrides, tag characters, interlinear annotations, noncharacters, runs of variation selectors or more than 8 combining marks on one character".into(),
        });
    }
    Ok(Some(value.to_string()))
}

impl ProfileInput {
    /// Validates and normalises the input into a profile.
    pub fn into_profile(self) -> Result<EmployeeProfile, ProfileError> {
        if let Some(years) = self.years_of_service
            && years > 60
        {
            return Err(ProfileError {
                field: "years_of_service",
                problem: "must be within 0-60".into(),
            });
        }
        let age_range = self
            .age_range
            .as_deref()
            .map(|v| clean("age_range", v, false))
            .transpose()?
            .flatten()
            .map(low_to_high);
        if let Some(range) = &age_range {
            let ok = range.split_once('-').is_some_and(|(a, b)| {
                matches!((a.trim().parse::<u32>(), b.trim().parse::<u32>()), (Ok(a), Ok(b)) if a >= 14 && a <= b && b <= 100)
            }) || range.strip_suffix('+').is_some_and(|a| a.trim().parse::<u32>().is_ok_and(|a| (14..=100).contains(&a)));
            if !ok {
                return Err(ProfileError {
                    field: "age_range",
                    problem: "must look like '28-32' or '60+'".into(),
                });
            }
        }
        Ok(EmployeeProfile {
            employee_code: clean("employee_code", &self.employee_code, true)?,
            department: clean("department", &self.department, true)?,
            position: clean("position", &self.position, true)?,
            grade: self
                .grade
                .as_deref()
                .map(|v| clean("grade", v, false))
                .transpose()?
                .flatten(),
            years_of_service: self.years_of_service,
            age_range,
            job_type: self.job_type,
        })
    }
}

impl EmployeeProfile {
    /// Names of the fields that carry a value, in form order.
    pub fn filled_fields(&self) -> Vec<&'static str> {
        let mut fields = vec![];
        let pairs: [(&'static str, bool); 7] = [
            ("employee_code", self.employee_code.is_some()),
            ("department", self.department.is_some()),
            ("position", self.position.is_some()),
            ("grade", self.grade.is_some()),
            ("years_of_service", self.years_of_service.is_some()),
            ("age_range", self.age_range.is_some()),
            ("job_type", self.job_type.is_some()),
        ];
        for (name, set) in pairs {
            if set {
                fields.push(name);
            }
        }
        fields
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub tenant_id: String,
    pub status: SessionStatus,
    pub profile: EmployeeProfile,
    pub completion_percentage: u8,
    pub user_agent_hash: Option<String>,
    pub ip_hash: Option<String>,
    pub resume_token_hash: String,
    pub metadata: serde_json::Value,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_accessed_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version; every write bumps it.
    pub version: u64,
}

impl Session {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Who the audit log names as acting for this session.
    pub fn actor(&self) -> String {
        self.profile
            .employee_code
            .clone()
            .unwrap_or_else(|| "anonymous".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sarah() -> ProfileInput {
        serde_json::from_value(serde_json::json!({
            "employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer",
            "grade": "L4", "years_of_service": 3, "age_range": "28-32", "job_type": "full_time"
        }))
        .unwrap()
    }

    #[test]
    fn sarahs_profile_is_accepted_with_every_field() {
        let profile = sarah().into_profile().unwrap();
        assert_eq!(profile.employee_code.as_deref(), Some("EMP12345"));
        assert_eq!(profile.job_type, Some(JobType::FullTime));
        assert_eq!(profile.filled_fields().len(), 7);
    }

    #[test]
    fn required_fields_lengths_and_ranges_are_enforced() {
        let mut input = sarah();
        input.employee_code = "  ".into();
        assert_eq!(input.into_profile().unwrap_err().field, "employee_code");
        let mut input = sarah();
        input.department = "x".repeat(101);
        assert_eq!(input.into_profile().unwrap_err().field, "department");
        let mut input = sarah();
        input.years_of_service = Some(99);
        assert_eq!(input.into_profile().unwrap_err().field, "years_of_service");
        let mut input = sarah();
        input.age_range = Some("old".into());
        assert_eq!(input.into_profile().unwrap_err().field, "age_range");
        let mut input = sarah();
        input.age_range = Some("60+".into());
        assert!(input.into_profile().is_ok());
        for (given, kept) in [(" 32 - 28 ", "28-32"), ("28 - 32", "28 - 32")] {
            let mut input = sarah();
            input.age_range = Some(given.into());
            let profile = input.into_profile().unwrap();
            assert_eq!(profile.age_range.as_deref(), Some(kept), "{given}");
        }
        for too_young in ["13-20", "20-13"] {
            let mut input = sarah();
            input.age_range = Some(too_young.into());
            assert_eq!(input.into_profile().unwrap_err().field, "age_range");
        }
    }

    #[test]
    fn unknown_fields_and_job_types_are_rejected() {
        assert!(
            serde_json::from_value::<ProfileInput>(serde_json::json!({
                "employee_code": "E", "department": "D", "position": "P", "salary": 1
            }))
            .is_err()
        );
        assert!(
            serde_json::from_value::<ProfileInput>(serde_json::json!({
                "employee_code": "E", "department": "D", "position": "P", "job_type": "pirate"
            }))
            .is_err()
        );
    }
}
