@R-NRT-1 @R-NRT-4 @R-NRT-5 @R-NRT-6 @R-NRT-8 @R-ACC-1 @R-ACC-5
Feature: Near-real-time consent and its revocation
  A grid user's consent to an ESP's service is the only basis for near-real-time data.
  Revoking it stops the flow at once, the ESP is told, and the access register shows it.

  Background:
    Given the lab clock reads 2026-06-01T10:00:00 in Brussels
    And rig-a is attached to the lab as an ephemeral CI rig
    And G1 is the grid user of the fluvius-t211-1.7.1 meter's access point
    And ESP Alpha is onboarded with a webhook endpoint

  Scenario: The ESP stops receiving at once and is notified
    Given G1 has consented to ESP Alpha's live service on the fluvius-t211-1.7.1 meter
    Then G1 sees ESP Alpha among the parties with access to the fluvius-t211-1.7.1 meter
    When ESP Alpha opens the live stream of the fluvius-t211-1.7.1 meter
    And the lab runs for 10 seconds
    Then ESP Alpha has received live samples
    And the live samples ESP Alpha received are 1 second apart
    When G1 revokes the consent of ESP Alpha
    And the lab runs for 10 seconds
    Then the live stream of ESP Alpha has ended without a sample captured after the revocation
    And ESP Alpha was notified of consent_revoked with a valid signature
    And the access register shows the stream of ESP Alpha ending at the revocation

  Scenario: Without consent there is no stream, and the refusal is registered
    When ESP Alpha opens the live stream of the fluvius-t211-1.7.1 meter
    Then ESP Alpha's stream is refused with no_consent
    And the access register shows a refused nrt request of ESP Alpha based on no_consent
