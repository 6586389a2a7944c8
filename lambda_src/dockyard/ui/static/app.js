// Progressive enhancement: every page works without this. It shows the copy-to-clipboard buttons.
const copyables = document.querySelectorAll("button.copy[data-copy]");

async function copy(button) {
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch {
    // No clipboard (an insecure context, or refused): select the text so that Ctrl+C copies it.
    const code = button.previousElementSibling;
    window.getSelection().selectAllChildren(code);
    button.textContent = "Press Ctrl+C";
  }
  button.classList.add("done");
  setTimeout(() => { button.textContent = "Copy"; button.classList.remove("done"); }, 2000);
}

for (const button of copyables) {
  button.hidden = false;
  button.addEventListener("click", () => copy(button));
}
