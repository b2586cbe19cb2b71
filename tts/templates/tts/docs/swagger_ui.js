"use strict";
{# No authentication and no sessions on this API, so no credentials or CSRF token to add. #}
window.ui = SwaggerUIBundle({
  url: "{{ schema_url|escapejs }}",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  plugins: [TtsDocs.plugin],
  layout: "BaseLayout",
  ...{{ settings|safe }},
});
