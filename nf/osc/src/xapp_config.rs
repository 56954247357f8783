//! The body of the xApp's `GET /ric/v1/config`.
//!
//! The swagger (`XappConfigList`) answers a list of `XAppConfig`: `metadata` (`xappName`,
//! `configType` = `json`) and `config`, the xApp's configuration. This xApp serves its
//! descriptor (`config-file.json`, whose `controls` section is its own configuration) as a
//! JSON object there, as the swagger types it. (xapp-frame's Go handler sends the file's
//! text as a JSON string instead; a reader that wants an object gets one here.)

use serde::Serialize;

/// `ConfigMetadata`.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigMetadata {
    #[serde(rename = "xappName")]
    pub xapp_name: String,
    /// Always `json` here (the swagger also allows `xml` and `other`).
    #[serde(rename = "configType")]
    pub config_type: &'static str,
}

/// `XAppConfig`.
#[derive(Clone, Debug, Serialize)]
pub struct XAppConfig {
    pub metadata: ConfigMetadata,
    pub config: serde_json::Value,
}

/// The `XappConfigList` body for an xApp named `xapp_name` whose configuration is `config`.
pub fn config_list(xapp_name: &str, config: serde_json::Value) -> serde_json::Value {
    let list = [XAppConfig {
        metadata: ConfigMetadata {
            xapp_name: xapp_name.to_owned(),
            config_type: "json",
        },
        config,
    }];
    serde_json::to_value(list).unwrap_or(serde_json::Value::Null)
}
