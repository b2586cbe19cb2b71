// Keeps the ReDoc page offline: ReDoc's side menu always shows a logo from cdn.redoc.ly.
// An image whose source is on another host gets an empty source instead, which ReDoc treats
// as a failed image and leaves out. Nothing else on the page is touched.
"use strict";
(() => {
  const createElement = Document.prototype.createElement;
  const srcProperty = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  const local = (value) => {
    try {
      const url = new URL(String(value), document.baseURI);
      const remote = /^(https?|wss?):$/.test(url.protocol) && url.origin !== window.location.origin;
      return remote ? "" : value;
    } catch {
      return value;
    }
  };
  Document.prototype.createElement = function (tagName, options) {
    const element = createElement.call(this, tagName, options);
    if (element instanceof HTMLImageElement) {
      const setAttribute = element.setAttribute;
      element.setAttribute = function (name, value) {
        const isSrc = String(name).toLowerCase() === "src";
        return setAttribute.call(this, name, isSrc ? local(value) : value);
      };
      Object.defineProperty(element, "src", {
        get: () => srcProperty.get.call(element),
        set: (value) => srcProperty.set.call(element, local(value)),
      });
    }
    return element;
  };
})();
