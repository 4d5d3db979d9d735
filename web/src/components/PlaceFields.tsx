import type { Place } from "../pages/campaigns/campaignModel";
import { useI18n } from "../i18n";
import { Field } from "./Field";

/** A template's LOCATION header: the place it shows (latitude and longitude, an optional name and
 *  address), as Meta's ``location`` parameter takes it. ``id`` names the group (``data-field``); each
 *  part is ``{id}.latitude`` and so on, so the API's problems land on the part they name. */
export function PlaceFields(props: {
  id: string; place: Place; onChange: (place: Place) => void; problem?: (field: string) => string | undefined;
}) {
  const { t } = useI18n();
  // a plain text field: iOS's decimal keypad (inputMode="decimal") has no minus sign, and Brazil's
  // longitudes, most of its latitudes, are negative
  const part = (key: keyof Place, label: string) => (
    <Field id={`${props.id}.${key}`} label={label} problem={props.problem?.(`${props.id}.${key}`)} className="grow">
      <input value={props.place[key]} onChange={(e) => props.onChange({ ...props.place, [key]: e.target.value })} />
    </Field>
  );
  const whole = props.problem?.(props.id);
  return (
    <fieldset className="field-group place-fields" data-field={props.id}>
      <legend>{t("campaigns.headerLocation")}</legend>
      <div className="row">
        {part("latitude", t("campaigns.latitude"))}
        {part("longitude", t("campaigns.longitude"))}
      </div>
      {part("name", t("campaigns.placeName"))}
      {part("address", t("campaigns.placeAddress"))}
      {whole && <span className="field-problem error">{whole}</span>}
    </fieldset>
  );
}
