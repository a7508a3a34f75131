window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Cookie sessions need the CSRF header on changes; bearer tokens work as they are.
    requestInterceptor: function (req) {
      var token = window.sessionStorage.getItem("fieldproof.csrf");
      if (token) { req.headers["X-CSRF-Token"] = token; }
      return req;
    },
    responseInterceptor: function (res) {
      if (res.body && res.body.csrf_token) {
        window.sessionStorage.setItem("fieldproof.csrf", res.body.csrf_token);
      }
      return res;
    }
  });
});
