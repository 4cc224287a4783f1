@R-DAT-1 @R-DAT-3 @R-DAT-5 @R-NRT-3 @R-MAN-3
Feature: Meter data for ESPs and grid users
  Quarter-hour and day volumes come from the meter's registers; the monthly peak is the
  highest quarter hour; the CSV download carries the same values as the API. A customer who is
  not the grid user needs the grid user's consent before any data flows.

  Background:
    Given the lab clock reads 2026-06-01T00:00:00 in Brussels
    And the kaifa-dsmr-4.2 meter of rig-a is attached to the lab as an ephemeral CI rig
    And G1 is the grid user of the kaifa-dsmr-4.2 meter's access point
    And ESP Alpha is onboarded with a webhook endpoint

  Scenario: Quarter hours, the day, the month's peak and the CSV agree
    Given G1 has granted ESP Alpha a quarter-hour mandate on the kaifa-dsmr-4.2 meter from 2026-05-01
    When the lab runs for 1 day
    And the lab runs for 5 minutes
    Then ESP Alpha reads 96 quarter hours of the kaifa-dsmr-4.2 meter from 2026-06-01 to 2026-06-02
    And G1 reads 96 quarter hours of the kaifa-dsmr-4.2 meter from 2026-06-01 to 2026-06-02
    And the day volume ESP Alpha reads for 2026-06-01 on the kaifa-dsmr-4.2 meter equals the sum of its quarter hours
    And the June 2026 peak ESP Alpha reads on the kaifa-dsmr-4.2 meter is its highest quarter hour of 2026-06-01
    And the CSV ESP Alpha downloads for 2026-06-01 on the kaifa-dsmr-4.2 meter has the same quarter hours

  Scenario: A customer who is not the grid user waits for the grid user's co-consent
    Given C9 asks for a quarter-hour mandate for ESP Alpha on the kaifa-dsmr-4.2 meter from 2026-05-01
    When the lab runs for 20 minutes
    Then ESP Alpha is refused quarter hours of the kaifa-dsmr-4.2 meter with mandate_not_approved
    When G1 co-consents to the mandate of ESP Alpha
    Then ESP Alpha reads 1 quarter hours of the kaifa-dsmr-4.2 meter from 2026-06-01T00:00:00 to 2026-06-01T00:15:00
