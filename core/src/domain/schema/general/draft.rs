//! The five drafts tel takes, told by `$schema`, and their meta-schemas,
//! embedded: a `$ref` to one resolves here, never over the network.

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Draft {
    Draft4,
    Draft6,
    Draft7,
    Draft201909,
    Draft202012,
}

/// A meta-schema document: its `$id` (without an empty fragment) and text.
pub(super) struct Embedded {
    pub(super) uri: &'static str,
    pub(super) text: &'static str,
}

macro_rules! embedded {
    ($uri:literal, $file:literal) => {
        Embedded {
            uri: $uri,
            text: include_str!(concat!("metaschemas/", $file)),
        }
    };
}

const DRAFT4: &[Embedded] = &[embedded!(
    "http://json-schema.org/draft-04/schema",
    "draft4.json"
)];
const DRAFT6: &[Embedded] = &[embedded!(
    "http://json-schema.org/draft-06/schema",
    "draft6.json"
)];
const DRAFT7: &[Embedded] = &[embedded!(
    "http://json-schema.org/draft-07/schema",
    "draft7.json"
)];
const DRAFT201909: &[Embedded] = &[
    embedded!(
        "https://json-schema.org/draft/2019-09/schema",
        "draft2019-09-schema.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2019-09/meta/core",
        "draft2019-09-meta-core.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2019-09/meta/applicator",
        "draft2019-09-meta-applicator.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2019-09/meta/validation",
        "draft2019-09-meta-validation.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2019-09/meta/meta-data",
        "draft2019-09-meta-meta-data.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2019-09/meta/format",
        "draft2019-09-meta-format.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2019-09/meta/content",
        "draft2019-09-meta-content.json"
    ),
];
const DRAFT202012: &[Embedded] = &[
    embedded!(
        "https://json-schema.org/draft/2020-12/schema",
        "draft2020-12-schema.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/core",
        "draft2020-12-meta-core.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/applicator",
        "draft2020-12-meta-applicator.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/unevaluated",
        "draft2020-12-meta-unevaluated.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/validation",
        "draft2020-12-meta-validation.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/meta-data",
        "draft2020-12-meta-meta-data.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/format-annotation",
        "draft2020-12-meta-format-annotation.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/format-assertion",
        "draft2020-12-meta-format-assertion.json"
    ),
    embedded!(
        "https://json-schema.org/draft/2020-12/meta/content",
        "draft2020-12-meta-content.json"
    ),
];

impl Draft {
    pub(super) const ALL: [Draft; 5] = [
        Draft::Draft4,
        Draft::Draft6,
        Draft::Draft7,
        Draft::Draft201909,
        Draft::Draft202012,
    ];

    /// The draft a `$schema` names, with or without its empty fragment and
    /// either scheme.
    pub(super) fn named(uri: &str) -> Option<Self> {
        let uri = uri.strip_suffix('#').unwrap_or(uri);
        let uri = uri
            .strip_prefix("https://")
            .or_else(|| uri.strip_prefix("http://"))?;
        Some(match uri {
            "json-schema.org/draft-04/schema" => Draft::Draft4,
            "json-schema.org/draft-06/schema" => Draft::Draft6,
            "json-schema.org/draft-07/schema" => Draft::Draft7,
            "json-schema.org/draft/2019-09/schema" => Draft::Draft201909,
            "json-schema.org/draft/2020-12/schema" => Draft::Draft202012,
            _ => return None,
        })
    }

    /// The documents of this draft's meta-schema, its root first.
    pub(super) fn metaschema(self) -> &'static [Embedded] {
        match self {
            Draft::Draft4 => DRAFT4,
            Draft::Draft6 => DRAFT6,
            Draft::Draft7 => DRAFT7,
            Draft::Draft201909 => DRAFT201909,
            Draft::Draft202012 => DRAFT202012,
        }
    }

    /// The draft whose meta-schema has a document at `uri`.
    pub(super) fn embedding(uri: &str) -> Option<Self> {
        Draft::ALL
            .into_iter()
            .find(|draft| draft.metaschema().iter().any(|doc| doc.uri == uri))
    }

    /// `id` before draft 6, `$id` since.
    pub(super) fn id_keyword(self) -> &'static str {
        if self == Draft::Draft4 { "id" } else { "$id" }
    }

    /// Before 2019-09 a `$ref` makes its schema's other keywords void.
    pub(super) fn ref_overrides(self) -> bool {
        self <= Draft::Draft7
    }
}
