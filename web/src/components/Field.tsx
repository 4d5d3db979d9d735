import { cloneElement, type ReactElement } from "react";

/** A labelled control; its problem (client check or the API's 422) under it, tied to it for screen readers. */
export function Field(props: { id: string; label: string; help?: string; problem?: string; children: ReactElement<Record<string, unknown>>; className?: string }) {
  const control = `f-${props.id}`;
  const described = [props.help && `help-${props.id}`, props.problem && `problem-${props.id}`].filter(Boolean).join(" ");
  return (
    <div className={`field ${props.problem ? "invalid" : ""} ${props.className ?? ""}`} data-field={props.id}>
      <label className="field-label" htmlFor={control}>{props.label}</label>
      {cloneElement(props.children, { id: control, "aria-invalid": props.problem ? true : undefined,
        "aria-describedby": described || undefined })}
      {props.help && <span className="field-help" id={`help-${props.id}`}>{props.help}</span>}
      {props.problem && <span className="field-problem error" id={`problem-${props.id}`}>{props.problem}</span>}
    </div>
  );
}
