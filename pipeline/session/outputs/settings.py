"""Study settings: the identifying-column selection, hashed IDs, the published file names."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from pipeline.session.hashing import DEFAULT_DIGITS, hash_id
from pipeline.session.psychds import StudyMetadata

#: Columns written only when selected in ``identifying`` (SPEC §4.2), in the platform's order.
IDENTIFYING = (
    "participant__global_id",
    "participant__nickname",
    "child__global_id",
    "child__name",
    "child__birthday",
    "child__age_in_days",
    "child__additional_information",
)
#: Once opt-in, now always published as the platform does: refused in ``identifying`` so
#: that an operator who withheld it notices (silently publishing it would surprise them).
ALWAYS_PUBLISHED = ("consent__comment",)
IDENTIFIABLE_SUFFIX = "-identifiable"


def study_slug(name: str) -> str:
    """``{study}`` in file names: every character that is not a letter or digit (Unicode
    ``isalnum``) → ``-``; ``Étude des bébés`` → ``Étude-des-bébés``."""
    return "".join(c if c.isalnum() else "-" for c in name)


@dataclass(frozen=True)
class StudySettings:
    """What the builders need to know about a study (from the ``session:`` config block;
    ``salt`` is the secret salt UUID itself, not the name of its variable)."""

    study_uuid: str
    study_name: str
    salt: str
    hash_digits: int = DEFAULT_DIGITS
    identifying: tuple[str, ...] = ()
    metadata: StudyMetadata = StudyMetadata()  # the Psych-DS dataset's (optional) metadata

    def __post_init__(self) -> None:
        for what in ("study_uuid", "salt"):
            try:
                object.__setattr__(self, what, str(uuid.UUID(str(getattr(self, what)))))
            except ValueError:
                raise ValueError(f"{what} must be a UUID") from None
        chosen = tuple(self.identifying)
        always = sorted(set(chosen) & set(ALWAYS_PUBLISHED))
        if always:
            raise ValueError(
                f"{', '.join(always)} is always published now (as the platform does, with a "
                "redaction note in the dictionary): remove it from identifying"
            )
        unknown = sorted(set(chosen) - set(IDENTIFYING))
        if unknown:
            raise ValueError(
                f"unknown identifying column(s) {', '.join(unknown)}; "
                f"choose from {', '.join(IDENTIFYING)}"
            )
        object.__setattr__(self, "identifying", tuple(c for c in IDENTIFYING if c in chosen))
        hash_id(self.study_uuid, self.study_uuid, self.salt, self.hash_digits)  # digits check

    @classmethod
    def from_config(cls, session: Any, salt: str) -> StudySettings:
        """Settings from a ``session:`` config block (any object with ``study_uuid``,
        ``study_name``, ``hash_digits``, ``identifying``; the dataset metadata keys
        ``description``, ``author``, ``license``, ``keywords``, ``citation``, ``funder``,
        ``url`` when it has them) and the salt read from the environment variable it names."""
        return cls(
            study_uuid=session.study_uuid,
            study_name=session.study_name,
            salt=salt,
            hash_digits=session.hash_digits,
            identifying=tuple(session.identifying or ()),
            metadata=StudyMetadata(
                description=getattr(session, "description", None),
                author=tuple(getattr(session, "author", None) or ()),
                license=getattr(session, "license", None),
                keywords=tuple(getattr(session, "keywords", None) or ()),
                citation=getattr(session, "citation", None),
                funder=getattr(session, "funder", None),
                url=getattr(session, "url", None),
            ),
        )

    @property
    def slug(self) -> str:
        """The study name as used in file names (the study UUID when the name is empty)."""
        return study_slug(self.study_name) if self.study_name else self.study_uuid

    @property
    def identifiable(self) -> bool:
        """True when any identifying column is selected."""
        return bool(self.identifying)

    def hashed(self, global_id: str | None) -> str:
        """Hashed ID of a global ID in this study ("" when there is none)."""
        if not global_id:
            return ""
        return _cached_hash(global_id, self.study_uuid, self.salt, self.hash_digits)


@functools.lru_cache(maxsize=1 << 16)
def _cached_hash(global_id: str, study: str, salt: str, digits: int) -> str:
    return hash_id(global_id, study, salt, digits)


def output_names(settings: StudySettings) -> dict[str, str]:
    """File name of every output, by role."""
    s, ident = settings.slug, IDENTIFIABLE_SUFFIX if settings.identifiable else ""
    return {
        "responses_csv": f"{s}_all-responses{ident}.csv",
        "responses_dict": f"{s}_all-responses-dict.csv",
        "responses_json": f"{s}_all-responses{ident}.json",
        "framedata_zip": f"{s}_framedata_per_session.zip",
        "frames_dict": f"{s}_all-frames-dict.csv",
        "all_frames_gz": f"{s}_all-frames.csv.gz",
        "children_csv": f"{s}_all-children{ident}.csv",
        "children_dict": f"{s}_all-children-dict.csv",
        "demographics_csv": f"{s}_all-demographic-snapshots.csv",
        "demographics_json": f"{s}_all-demographic-snapshots.json",
        "demographics_dict": f"{s}_all-demographic-snapshots-dict.csv",
        "videos_csv": f"{s}_videos.csv",
        "psychds_zip": f"{s}--psychds.zip",
    }
