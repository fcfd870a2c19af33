//! Who is calling: API keys, login sessions (usable as API keys) and anonymous access.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use palisade_metastore::{SessionRecord, UserRecord};
use palisade_model::{now_millis, random_hex};

use crate::{Service, ServiceError, ServiceResult};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    pub role: String,
}

/// A browser session: who it is, and the token its state-changing requests must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSession {
    pub caller: Caller,
    pub csrf_token: String,
}

/// Hashes a password with Argon2id into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// What a session is stored under: the SHA-256 of its id, so that the database (or a copy of
/// it) holds nothing usable as an apikey. Session ids are 128 random bits, so a plain hash is
/// enough (no salt or stretching needed).
fn session_key(session_id: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(session_id.as_bytes()))
}

/// Compares secrets without an early exit on the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Service {
    /// Resolves the `apikey` header or query parameter to a caller.
    pub async fn authenticate(&self, apikey: Option<&str>) -> ServiceResult<Caller> {
        let settings = self.settings();
        let apikey = apikey.map(str::trim).filter(|k| !k.is_empty());
        let Some(apikey) = apikey else {
            if settings.allow_anonymous {
                return Ok(Caller {
                    username: "anonymous".into(),
                    role: "user".into(),
                });
            }
            return Err(ServiceError::AccessDenied);
        };
        for key in &settings.api_keys {
            if same_secret(&key.key, apikey) {
                return Ok(Caller {
                    username: key.username.clone(),
                    role: key.role.clone(),
                });
            }
        }
        let idle = i64::try_from(settings.session_idle.as_millis()).unwrap_or(i64::MAX);
        match self
            .metastore()
            .session(&session_key(apikey), now_millis(), idle)
            .await?
        {
            Some(session) => Ok(Caller {
                username: session.username,
                role: session.role,
            }),
            None => Err(ServiceError::AccessDenied),
        }
    }

    /// A login session presented as a cookie (the web console). A browser sends cookies on its
    /// own, even on requests another site's page makes it send, so a request that changes
    /// something (`changes_state`) must also carry the session's CSRF token (the
    /// `oms-csrf-token` of the login answer), which such a page cannot read.
    pub async fn authenticate_cookie(
        &self,
        session_id: &str,
        csrf_token: Option<&str>,
        changes_state: bool,
    ) -> ServiceResult<Caller> {
        let session = self.cookie_session(session_id).await?;
        if changes_state && !Self::csrf_matches(&session, csrf_token) {
            return Err(ServiceError::AccessDenied);
        }
        Ok(session.caller)
    }

    /// The live session a cookie names (touching it), with the CSRF token its forms carry.
    pub async fn cookie_session(&self, session_id: &str) -> ServiceResult<CookieSession> {
        let idle = i64::try_from(self.settings().session_idle.as_millis()).unwrap_or(i64::MAX);
        let Some(session) = self
            .metastore()
            .session(&session_key(session_id.trim()), now_millis(), idle)
            .await?
        else {
            return Err(ServiceError::AccessDenied);
        };
        Ok(CookieSession {
            caller: Caller {
                username: session.username,
                role: session.role,
            },
            csrf_token: session.csrf_token,
        })
    }

    /// Whether `offered` is the CSRF token of `session` (compared in constant time).
    pub fn csrf_matches(session: &CookieSession, offered: Option<&str>) -> bool {
        offered.is_some_and(|t| same_secret(t.trim(), &session.csrf_token))
    }

    /// `POST /login` from `address`: checks the password and opens a session. Returns
    /// (session_id, csrf token). A throttled address is refused before any verification; a
    /// failure is answered late when its account is under attack (see `throttle`).
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        address: Option<std::net::IpAddr>,
    ) -> ServiceResult<(String, String)> {
        let throttle = &self.inner.throttle;
        if let crate::throttle::Admission::Refused(wait) =
            throttle.admit(address, std::time::Instant::now())
        {
            return Err(ServiceError::LoginThrottled(wait.as_secs().max(1)));
        }
        let record = self.metastore().user(user).await?;
        let password = password.to_string();
        let hash = record.as_ref().map(|r| r.password_hash.clone());
        // Verify even for unknown users so that timing does not reveal which names exist.
        let verified = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                let _ = hash_password(&password);
                false
            }
        })
        .await
        .unwrap_or(false);
        let Some(record) = record.filter(|_| verified) else {
            let delay = throttle.failed(address, user, std::time::Instant::now());
            tokio::time::sleep(delay).await;
            return Err(ServiceError::BadCredentials);
        };
        throttle.succeeded(address);
        let session_id = random_hex(16);
        let session = SessionRecord {
            session_id: session_key(&session_id),
            username: record.username,
            role: record.role,
            csrf_token: random_hex(16),
            last_seen: now_millis(),
        };
        self.metastore().create_session(&session).await?;
        Ok((session_id, session.csrf_token))
    }

    /// Whether `caller` may see (read, cancel, add to) what `owner` submitted: always, unless
    /// per-user isolation is on, when only admins see what others submitted. The one place this
    /// is decided.
    pub fn may_see(&self, caller: &Caller, owner: &str) -> bool {
        !self.settings().isolate_users || caller.role == "admin" || caller.username == owner
    }

    /// The submitter whose files alone `caller` may see, when isolation restricts them.
    pub(crate) fn visible_owner(&self, caller: &Caller) -> Option<String> {
        (self.settings().isolate_users && caller.role != "admin").then(|| caller.username.clone())
    }

    /// `POST /logout`: ends the session named by the apikey.
    pub async fn logout(&self, apikey: Option<&str>) -> ServiceResult<()> {
        let Some(apikey) = apikey.filter(|k| !k.is_empty()) else {
            return Err(ServiceError::BadRequest("Missing apikey".into()));
        };
        if self
            .metastore()
            .delete_session(&session_key(apikey))
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::AccessDenied)
        }
    }

    /// Creates or updates a user (config users at start, `palisade user add`).
    pub async fn put_user(&self, name: &str, password_hash: &str, role: &str) -> ServiceResult<()> {
        if role != "admin" && role != "user" {
            return Err(ServiceError::BadRequest(format!(
                "unknown role {role:?}: use admin or user"
            )));
        }
        self.metastore()
            .put_user(&UserRecord {
                username: name.to_string(),
                password_hash: password_hash.to_string(),
                role: role.to_string(),
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn secret_comparison_needs_equal_length_and_bytes() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
