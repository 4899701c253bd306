//! The twelve offence categories of ROUTING.md. A closed set, so an enum: an unknown id in a
//! list, a data pack or a case is refused where it is read.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    PublicProvocation,
    GlorificationApology,
    RecruitmentSolicitation,
    InstructionProvide,
    TrainingReceive,
    TravelFacilitation,
    TerroristFinancing,
    ThreatViolence,
    PossessionCollection,
    Extremism,
    Separatism,
    IncitementHatred,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::PublicProvocation,
        Category::GlorificationApology,
        Category::RecruitmentSolicitation,
        Category::InstructionProvide,
        Category::TrainingReceive,
        Category::TravelFacilitation,
        Category::TerroristFinancing,
        Category::ThreatViolence,
        Category::PossessionCollection,
        Category::Extremism,
        Category::Separatism,
        Category::IncitementHatred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::PublicProvocation => "public_provocation",
            Category::GlorificationApology => "glorification_apology",
            Category::RecruitmentSolicitation => "recruitment_solicitation",
            Category::InstructionProvide => "instruction_provide",
            Category::TrainingReceive => "training_receive",
            Category::TravelFacilitation => "travel_facilitation",
            Category::TerroristFinancing => "terrorist_financing",
            Category::ThreatViolence => "threat_violence",
            Category::PossessionCollection => "possession_collection",
            Category::Extremism => "extremism",
            Category::Separatism => "separatism",
            Category::IncitementHatred => "incitement_hatred",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown offence category {0:?} (expected one of the twelve ids in ROUTING.md)")]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_str_and_serde() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), c);
        }
        assert!("terrorism".parse::<Category>().is_err());
    }
}
