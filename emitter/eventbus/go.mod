module github.com/socketipc/socketipc/emitter/eventbus

go 1.24.0

require (
	github.com/asaskevich/EventBus v0.0.0-20200907212545-49d423059eef
	github.com/socketipc/socketipc v0.0.0-00010101000000-000000000000
)

// The bridge is developed beside the library it forwards from.
replace github.com/socketipc/socketipc => ../..
