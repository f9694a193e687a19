// Settings → System: every scalar the settings API exposes, edited in place; only changed
// keys are sent, and a 400 naming a field is shown beside that field.
import { createResource, createSignal, For, Show } from "solid-js";
import { api, ApiError } from "../lib/api";
import { toast } from "../lib/toast";
import { changedKeys, humanKey } from "../lib/settings";

type Scalar = string | number | boolean;

export default function SettingsSystem() {
  const [orig, { refetch }] = createResource(() => api<Record<string, unknown>>("GET", "/api/system/settings"));
  const [edits, setEdits] = createSignal<Record<string, Scalar>>({});
  const [errs, setErrs] = createSignal<Record<string, string>>({});
  const scalars = () => Object.entries(orig() ?? {}).filter(([, v]) => ["string", "number", "boolean"].includes(typeof v)) as [string, Scalar][];
  const val = (k: string, v: Scalar) => (k in edits() ? edits()[k] : v);
  const save = async (e: Event) => {
    e.preventDefault();
    const diff = changedKeys(orig() ?? {}, edits());
    if (!Object.keys(diff).length) return toast("Nothing changed", "info");
    try {
      await api("POST", "/api/system/settings/update", diff, { toast: false });
      toast("Settings saved", "ok");
      setEdits({});
      setErrs({});
      refetch();
    } catch (x) {
      const ex = x as ApiError;
      setErrs({ ...ex.fields, form: ex.message });
    }
  };
  return (
    <div class="page">
      <h1>System settings</h1>
      <Show when={orig()} fallback={<p class="muted">{orig.error ? "Could not load settings." : "Loading…"}</p>}>
        <form class="panel" onSubmit={save} data-testid="system-settings">
          <div class="formgrid">
            <For each={scalars()}>{([k, v]) => (
              <label class={typeof v === "boolean" ? "row" : ""}>
                <Show when={typeof v === "boolean"} fallback={<>{humanKey(k)}<input name={k} type={typeof v === "number" ? "number" : "text"} value={String(val(k, v))} onInput={(e) => setEdits({ ...edits(), [k]: typeof v === "number" ? Number(e.currentTarget.value) : e.currentTarget.value })} /></>}>
                  <input name={k} type="checkbox" checked={Boolean(val(k, v))} onChange={(e) => setEdits({ ...edits(), [k]: e.currentTarget.checked })} /> {humanKey(k)}
                </Show>
                <Show when={errs()[k]}><small class="error">{errs()[k]}</small></Show>
              </label>
            )}</For>
          </div>
          <Show when={errs().form}><p class="error" role="alert">{errs().form}</p></Show>
          <button type="submit" class="primary">Save</button>
        </form>
      </Show>
    </div>
  );
}
