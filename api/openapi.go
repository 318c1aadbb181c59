package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"personas/docs"
)

// openAPI serves the OpenAPI document the binary was built with, byte for byte.
func (s *Server) openAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/yaml", docs.OpenAPI)
}
