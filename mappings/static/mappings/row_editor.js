// The mapping row editor: transforms as a list of steps, the Braze target as a grouped choice.
// Progressive: each widget keeps its text field (the JSON list, the target name) as what is
// posted, draws the choices from it, and writes every change back to it. The kinds, options and
// targets come from the engine, rendered in the page as JSON (#transform-catalogue,
// #target-catalogue): nothing about them is repeated here.
(function () {
  "use strict";
  const data = (id) => {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  };
  const make = (tag, props = {}, children = []) => {
    const node = Object.assign(document.createElement(tag), props);
    children.forEach((child) => node.append(child));
    return node;
  };
  const isTemplate = (field) => field.name.includes("__prefix__");

  // -- transforms ------------------------------------------------------------------------------

  function parseSteps(text) {
    try {
      const list = JSON.parse(text || "[]") || [];
      if (!Array.isArray(list)) return null;
      return list.map((item) => (typeof item === "string" ? { name: item } : item));
    } catch (error) {
      return null;
    }
  }

  function serialise(steps) {
    return JSON.stringify(steps.map((step) => (Object.keys(step).length === 1 ? step.name : step)));
  }

  function optionInput(option, step, changed) {
    const value = step[option.name];
    const set = (v) => {
      if (v === "" || v === undefined || v === false) delete step[option.name];
      else step[option.name] = v;
      changed();
    };
    const label = make("label", { className: "step-option" }, [option.label + " "]);
    let input;
    if (option.input === "select") {
      input = make("select", {}, [make("option", { value: "", textContent: "–" })]);
      option.choices.forEach(([v, text]) => input.append(make("option", { value: v, textContent: text })));
      input.value = value || "";
      input.addEventListener("change", () => set(input.value));
    } else if (option.input === "checkbox") {
      input = make("input", { type: "checkbox", checked: value === true });
      input.addEventListener("change", () => set(input.checked));
    } else if (option.input === "table") {
      return tableInput(option, step, changed);
    } else {
      input = make("input", { type: "text", size: 12, placeholder: option.placeholder || "" });
      if (option.input === "path") input.setAttribute("list", "seen-paths");
      if (option.input === "words") input.value = (value || []).join(", ");
      else if (option.input === "value") input.value = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
      else input.value = value || "";
      input.addEventListener("input", () => {
        const text = input.value;
        if (option.input === "words") set(text.trim() ? text.split(",").map((w) => w.trim()) : "");
        else if (option.input === "value") set(text === "" ? "" : readValue(text));
        else set(text.trim());
      });
    }
    input.dataset.option = option.name;
    label.append(input);
    return label;
  }

  function readValue(text) {
    // A default of 0, true or {"a": 1} is that JSON value; anything else is the text itself.
    try { return JSON.parse(text); } catch (error) { return text; }
  }

  function tableInput(option, step, changed) {
    const box = make("div", { className: "step-table" }, [make("span", { textContent: "input → output" })]);
    const pairs = Object.entries(step[option.name] || {});
    const write = () => {
      const table = {};
      box.querySelectorAll(".table-pair").forEach((pair) => {
        const [key, out] = pair.querySelectorAll("input");
        if (key.value !== "") table[key.value] = out.value;
      });
      if (Object.keys(table).length) step[option.name] = table;
      else delete step[option.name];
      changed();
    };
    const addPair = (key = "", out = "") => {
      const keyInput = make("input", { type: "text", size: 8, value: key, className: "table-key" });
      const outInput = make("input", { type: "text", size: 8, value: out, className: "table-value" });
      const remove = make("button", { type: "button", textContent: "×", title: "Remove this pair" });
      const pair = make("div", { className: "table-pair" }, [keyInput, " → ", outInput, remove]);
      [keyInput, outInput].forEach((input) => input.addEventListener("input", write));
      remove.addEventListener("click", () => { pair.remove(); write(); });
      box.insertBefore(pair, addButton);
    };
    const addButton = make("button", { type: "button", textContent: "+ pair", className: "table-add" });
    addButton.addEventListener("click", () => addPair());
    box.append(addButton);
    (pairs.length ? pairs : [["", ""]]).forEach(([key, out]) => addPair(key, out));
    return box;
  }

  function transformsEditor(textarea, kinds) {
    let steps = parseSteps(textarea.value);
    const editor = make("div", { className: "transforms-editor" });
    const list = make("ol", { className: "transform-steps" });
    const add = make("select", { className: "transform-add", title: "Add a transform" }, [
      make("option", { value: "", textContent: "+ add step…" }),
    ]);
    kinds.forEach((kind) => add.append(make("option", { value: kind.name, textContent: `${kind.name}: ${kind.help}` })));
    const toggle = make("button", { type: "button", className: "transforms-toggle", textContent: "Edit as JSON" });
    editor.append(list, add, toggle);
    textarea.after(editor);
    textarea.classList.add("transforms-json");

    const write = () => {
      textarea.value = serialise(steps);
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    };
    const draw = () => {
      list.replaceChildren();
      steps.forEach((step, index) => list.append(stepItem(step, index)));
    };
    const move = (index, by) => {
      const [step] = steps.splice(index, 1);
      steps.splice(index + by, 0, step);
      write(); draw();
    };
    const stepItem = (step, index) => {
      const kind = kinds.find((k) => k.name === step.name);
      const name = make("select", { className: "transform-kind", title: kind ? kind.help : "" });
      kinds.forEach((k) => name.append(make("option", { value: k.name, textContent: k.name, title: k.help })));
      name.value = step.name;
      name.addEventListener("change", () => { steps[index] = { name: name.value }; write(); draw(); });
      const buttons = [["↑", -1, index > 0], ["↓", 1, index < steps.length - 1]]
        .filter(([, , usable]) => usable)
        .map(([text, by]) => {
          const button = make("button", { type: "button", textContent: text, title: by < 0 ? "Move up" : "Move down" });
          button.addEventListener("click", () => move(index, by));
          return button;
        });
      const remove = make("button", { type: "button", textContent: "×", title: "Remove this step", className: "transform-remove" });
      remove.addEventListener("click", () => { steps.splice(index, 1); write(); draw(); });
      const options = (kind ? kind.options : []).map((option) => optionInput(option, step, write));
      return make("li", { className: "transform-step" }, [name, ...buttons, remove, ...options]);
    };
    add.addEventListener("change", () => {
      if (!add.value) return;
      steps.push({ name: add.value });
      add.value = "";
      write(); draw();
    });
    const showJson = (on) => {
      textarea.classList.toggle("transforms-json-hidden", !on);
      editor.classList.toggle("transforms-editor-hidden", on);
      toggle.textContent = on ? "Edit as steps" : "Edit as JSON";
    };
    toggle.addEventListener("click", () => {
      const asJson = textarea.classList.contains("transforms-json-hidden");
      if (!asJson) {
        const parsed = parseSteps(textarea.value);
        if (parsed === null) { textarea.setCustomValidity("Not a JSON list: fix it to edit as steps"); textarea.reportValidity(); return; }
        textarea.setCustomValidity(""); steps = parsed; draw();
      }
      showJson(asJson);
      editor.append(toggle);
      if (asJson) textarea.after(toggle);
    });
    if (steps === null) { // text the steps cannot show (bad JSON): leave it to be fixed as text
      steps = [];
      showJson(true); textarea.after(toggle);
    } else {
      draw(); showJson(false);
    }
  }

  // -- targets ---------------------------------------------------------------------------------

  const OCCURRENCE = /^(events|purchases)\[0\]\.([a-z_]+)(?:\.(.+))?$/;

  function targetPicker(input, catalogue) {
    const standard = new Map(catalogue.standard.map((t) => [t.name, t.format]));
    const kind = make("select", { className: "target-kind" });
    const attributes = make("optgroup", { label: "Braze standard attributes" });
    catalogue.standard.forEach((t) => attributes.append(make("option", { value: "standard:" + t.name, textContent: t.name })));
    const other = make("optgroup", { label: "Other" }, [
      make("option", { value: "custom", textContent: "custom attribute…" }),
      make("option", { value: "events", textContent: "event field…" }),
      make("option", { value: "purchases", textContent: "purchase field…" }),
    ]);
    kind.append(make("option", { value: "", textContent: "– choose –" }), attributes, other);
    const field = make("select", { className: "target-field" });
    const name = make("input", { type: "text", size: 12, className: "target-name", placeholder: "name" });
    const format = make("small", { className: "target-format" });
    input.classList.add("target-text");
    input.after(make("span", { className: "target-picker" }, [kind, field, name, format]));

    const fill = (fields) => field.replaceChildren(...fields.map((f) => make("option", { value: f, textContent: f })));
    const read = () => {
      const text = input.value.trim();
      const match = OCCURRENCE.exec(text);
      if (!text) kind.value = "";
      else if (standard.has(text)) kind.value = "standard:" + text;
      else if (match) {
        kind.value = match[1];
        fill(catalogue[match[1] === "events" ? "event_fields" : "purchase_fields"]);
        field.value = match[2]; name.value = match[3] || "";
      } else { kind.value = "custom"; name.value = text; }
      show();
    };
    const show = () => {
      const value = kind.value;
      field.hidden = !(value === "events" || value === "purchases");
      name.hidden = !(value === "custom" || (!field.hidden && field.value === "properties"));
      name.placeholder = value === "custom" ? "attribute name" : "property key";
      format.textContent = value.startsWith("standard:") ? standard.get(value.slice(9)) : "";
    };
    const write = () => {
      const value = kind.value;
      if (value.startsWith("standard:")) input.value = value.slice(9);
      else if (value === "custom") input.value = name.value.trim();
      else if (value) input.value = `${value}[0].${field.value}${field.value === "properties" ? "." + name.value.trim() : ""}`;
      else input.value = "";
      show();
      input.dispatchEvent(new Event("input", { bubbles: true }));
    };
    kind.addEventListener("change", () => {
      if (kind.value === "events" || kind.value === "purchases") {
        fill(catalogue[kind.value === "events" ? "event_fields" : "purchase_fields"]);
      }
      write();
    });
    field.addEventListener("change", write);
    name.addEventListener("input", write);
    read();
  }

  // -- positions -------------------------------------------------------------------------------

  function placeAtEnd(row) {
    // A row added with "Add another" goes after the others, not at position 0.
    const position = row.querySelector("input[name$='-position']");
    if (!position) return;
    const all = [...document.querySelectorAll("input[name^='rows-'][name$='-position']")]
      .filter((p) => p !== position && !isTemplate(p) && p.value !== "")
      .map((p) => Number(p.value));
    position.value = all.length ? Math.max(...all) + 1 : 0;
  }

  function setUp(root, transforms, targets) {
    if (transforms) {
      root.querySelectorAll("textarea[data-transforms-editor]").forEach((field) => {
        if (!isTemplate(field) && !field.dataset.ready) { field.dataset.ready = "1"; transformsEditor(field, transforms); }
      });
    }
    if (targets) {
      root.querySelectorAll("input[data-target-picker]").forEach((field) => {
        if (!isTemplate(field) && !field.dataset.ready) { field.dataset.ready = "1"; targetPicker(field, targets); }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const transforms = data("transform-catalogue");
    const targets = data("target-catalogue");
    setUp(document, transforms, targets);
    document.addEventListener("formset:added", (event) => {
      placeAtEnd(event.target);
      setUp(event.target, transforms, targets);
    });
  });
})();
