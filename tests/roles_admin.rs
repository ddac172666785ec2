//! Role administration through the API: custom roles, grants, assignments, effective
//! permissions, departments, and the refusals that keep an admin from breaking the model.

use rapport_tests::reqwest::{Method, StatusCode};
use rapport_tests::serde_json::json;
use rapport_tests::{assert_error, id, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_grant_assign_and_delete_custom_roles() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("roles").await;
        let (status, roles) = server.get("/api/v1/roles", &tenant.token).await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "tenant-admin",
                "manager",
                "account-manager",
                "service-agent",
                "viewer"
            ]
        );

        let (status, role) = server
            .post(
                "/api/v1/roles",
                &tenant.token,
                json!({"name": "Auditor", "description": "Reads the log",
                "permissions": ["audit:read", "customers:read:all"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{role}");
        assert_eq!(role["name"], "auditor");
        assert_eq!(
            role["permissions"],
            json!(["audit:read", "customers:read:all"])
        );
        let (status, _) = server
            .post("/api/v1/roles", &tenant.token, json!({"name": "auditor"}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (user, token) = server
            .user_with(&tenant, "auditor@roles.test", json!({"role": "auditor"}))
            .await;
        let (status, log) = server.get("/api/v1/audit", &token).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let (status, error) = server.get("/api/v1/users", &token).await;
        assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");

        let grant = "/api/v1/roles/auditor/permissions/users:read";
        let (status, role) = server
            .call(Method::PUT, grant, Some(&tenant.token), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            role["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("users:read"))
        );
        assert_eq!(server.get("/api/v1/users", &token).await.0, StatusCode::OK);

        let (status, effective) = server
            .get(&format!("/api/v1/users/{user}/permissions"), &tenant.token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(effective["roles"], json!(["auditor"]));
        assert_eq!(
            effective["permissions"],
            json!(["audit:read", "customers:read:all", "users:read"])
        );

        let (status, _) = server
            .call(Method::DELETE, grant, Some(&tenant.token), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            server.get("/api/v1/users", &token).await.0,
            StatusCode::FORBIDDEN
        );

        let (status, _) = server.delete("/api/v1/roles/auditor", &tenant.token).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, effective) = server
            .get(&format!("/api/v1/users/{user}/permissions"), &tenant.token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(effective["roles"], json!([]));
        assert_eq!(
            server.get("/api/v1/audit", &token).await.0,
            StatusCode::FORBIDDEN
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_role_changes_are_refused_with_a_reason_and_change_nothing() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("role-guards").await;
        let before = server.get("/api/v1/roles", &tenant.token).await.1;
        let (status, error) = server.delete("/api/v1/roles/manager", &tenant.token).await;
        assert_error(status, &error, StatusCode::CONFLICT, "role_built_in");
        let (status, error) = server
            .call(
                Method::PUT,
                "/api/v1/roles/tenant-admin/permissions/contacts:read:own",
                Some(&tenant.token),
                None,
            )
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "role_locked");
        for (permission, code) in [
            ("customers:read", "invalid_permission"),
            ("customers:read:everyone", "invalid_permission"),
            ("teleport:read", "invalid_permission"),
            ("tenants:manage", "platform_permission"),
        ] {
            let path = format!("/api/v1/roles/manager/permissions/{permission}");
            let (status, error) = server
                .call(Method::PUT, &path, Some(&tenant.token), None)
                .await;
            let error = assert_error(
                status,
                &error,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            assert_eq!(error["details"][0]["code"], code, "{permission}");
        }
        let (status, error) = server
            .post(
                "/api/v1/roles",
                &tenant.token,
                json!({"name": "viewer", "permissions": ["bogus", "plugins:manage"]}),
            )
            .await;
        let error = assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error["details"].as_array().unwrap().len(), 2, "{error}");
        let me = tenant.admin_id;
        let (status, error) = server
            .call(
                Method::DELETE,
                &format!("/api/v1/users/{me}/roles/tenant-admin"),
                Some(&tenant.token),
                None,
            )
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "self_lockout");
        let (status, error) = server
            .call(
                Method::PUT,
                &format!("/api/v1/users/{me}/roles/platform-admin"),
                Some(&tenant.token),
                None,
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let (status, error) = server
            .call(
                Method::PUT,
                &format!("/api/v1/users/{me}/roles/ghost"),
                Some(&tenant.token),
                None,
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let (status, error) = server
            .call(
                Method::PUT,
                "/api/v1/users/999999/roles/viewer",
                Some(&tenant.token),
                None,
            )
            .await;
        assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(server.get("/api/v1/roles", &tenant.token).await.1, before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departments_group_users_and_are_only_deleted_when_empty() {
    on_every_backend(|server| async move {
        let tenant = server.tenant("departments").await;
        let sales = id(&server
            .post(
                "/api/v1/departments",
                &tenant.token,
                json!({"code": "Sales", "name": "Sales"}),
            )
            .await
            .1);
        let (status, error) = server
            .post(
                "/api/v1/departments",
                &tenant.token,
                json!({"code": "sales", "name": "Again"}),
            )
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "department_exists");
        let (status, error) = server
            .post(
                "/api/v1/users",
                &tenant.token,
                json!({"email": "x@d.test", "display_name": "X", "department_id": 424242}),
            )
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let (user, _) = server
            .user_with(&tenant, "rep@d.test", json!({"department_id": sales}))
            .await;
        let (_, listed) = server.get("/api/v1/departments", &tenant.token).await;
        assert_eq!(listed[0]["code"], "sales");
        let (status, error) = server
            .delete(&format!("/api/v1/departments/{sales}"), &tenant.token)
            .await;
        assert_error(status, &error, StatusCode::CONFLICT, "department_not_empty");
        let (status, moved) = server
            .patch(
                &format!("/api/v1/users/{user}"),
                &tenant.token,
                json!({"department_id": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(moved["department_id"].is_null());
        let (status, _) = server
            .delete(&format!("/api/v1/departments/{sales}"), &tenant.token)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    })
    .await;
}

/// An upgrade that adds resources gives the editable built-in roles of existing tenants their
/// default grants on them, once; what a tenant admin removes afterwards stays removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_grants_new_resources_to_built_in_roles_once() {
    use sea_orm::{ConnectionTrait, Statement};
    on_every_backend(|server| async move {
        let tenant = server.tenant("upgraded").await;
        let manager = || async {
            let (status, role) = server.get("/api/v1/roles/manager", &tenant.token).await;
            assert_eq!(status, StatusCode::OK, "{role}");
            role["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert!(manager().await.contains(&"surveys:read:team".to_owned()));

        // The tenant as a release before the service desk left it: no grants on the new
        // resources, and no record of which resources its roles know.
        let backend = server.db.get_database_backend();
        for sql in [
            format!("DELETE FROM casbin_rules WHERE ptype = 'p' AND v0 = 'manager' AND v1 = '{}' AND (v2 IN ('tickets', 'service', 'knowledge', 'surveys', 'survey-settings'))", tenant.id),
            format!("UPDATE roles SET known_resources = NULL WHERE tenant_id = {}", tenant.id),
        ] {
            server.db.execute_raw(Statement::from_string(backend, sql)).await.unwrap();
        }
        let old = server.replica().await;
        let (_, role) = old.get("/api/v1/roles/manager", &tenant.token).await;
        let after_upgrade: Vec<&str> = role["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        for granted in ["tickets:read:team", "knowledge:write", "surveys:send:team", "survey-settings:read"] {
            assert!(after_upgrade.contains(&granted), "{granted} missing: {after_upgrade:?}");
        }

        // The admin takes one away; the next start leaves it away.
        let (status, body) = old.delete("/api/v1/roles/manager/permissions/surveys:send:team", &tenant.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let restarted = old.replica().await;
        let (_, role) = restarted.get("/api/v1/roles/manager", &tenant.token).await;
        let kept: Vec<&str> = role["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        assert!(!kept.contains(&"surveys:send:team"), "{kept:?}");
        assert!(kept.contains(&"surveys:read:team"));
    })
    .await;
}
