// Passkeys: the button marked data-passkey-options asks the browser to make a passkey
// (data-passkey-mode="create") or to sign with one ("get"), puts the answer in the form's
// passkey_answer field and sends the form. The options come from the server (webauthn's
// options_to_json); binary values travel as base64url both ways. Without JavaScript the
// button stays hidden and codes still work.
(function () {
  "use strict";
  var button = document.querySelector("[data-passkey-options]");
  if (!button || !window.PublicKeyCredential || !navigator.credentials) { return; }
  var form = button.form;
  var failure = document.getElementById("passkey-failed");

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) { return { type: item.type, id: toBuffer(item.id), transports: item.transports }; });
  }

  function send(credential, response) {
    form.elements.passkey_answer.value = JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined
    });
    form.submit();
  }

  function failed() {
    if (failure) { failure.hidden = false; }
  }

  function create(options) {
    options.user.id = toBuffer(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    navigator.credentials.create({ publicKey: options }).then(function (credential) {
      send(credential, {
        clientDataJSON: toText(credential.response.clientDataJSON),
        attestationObject: toText(credential.response.attestationObject),
        transports: credential.response.getTransports ? credential.response.getTransports() : []
      });
    }, failed);
  }

  function get(options) {
    options.allowCredentials = descriptors(options.allowCredentials);
    navigator.credentials.get({ publicKey: options }).then(function (credential) {
      var response = {
        clientDataJSON: toText(credential.response.clientDataJSON),
        authenticatorData: toText(credential.response.authenticatorData),
        signature: toText(credential.response.signature)
      };
      if (credential.response.userHandle) { response.userHandle = toText(credential.response.userHandle); }
      send(credential, response);
    }, failed);
  }

  button.hidden = false;
  button.addEventListener("click", function (event) {
    event.preventDefault();
    if (failure) { failure.hidden = true; }
    var options = JSON.parse(button.getAttribute("data-passkey-options"));
    options.challenge = toBuffer(options.challenge);
    if (button.getAttribute("data-passkey-mode") === "create") { create(options); } else { get(options); }
  });
}());
