"""ChargingProfiles (2.2 on): the objects are the same in 2.2, 2.2.1 and 2.3.0; 2.1.1 has no such
module, so every crossing to or from 2.1.1 is refused by the chain."""

from __future__ import annotations

from routing.versions.steps import Step, StepKey, unchanged
from routing.versions.version import OcpiVersion as V

KINDS = ("set_charging_profile", "charging_profile_response", "active_charging_profile",
         "active_charging_profile_result", "charging_profile_result", "clear_profile_result")

STEPS: dict[StepKey, Step] = {
    (kind, a, b): unchanged
    for kind in KINDS
    for a, b in ((V.V2_2, V.V2_2_1), (V.V2_2_1, V.V2_2), (V.V2_2_1, V.V2_3_0), (V.V2_3_0, V.V2_2_1))
}
